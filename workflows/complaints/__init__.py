"""Complaints and reports (投诉举报): public and staff intake, the `complaint` process in the street's inbox, its
outcomes on the register (correction, stop) and the receivables of fraud (追缴 with a fine of 1–3 ×)."""
