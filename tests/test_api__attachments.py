"""Attachments through the API: limits by extension and content, storage outside the rows, download by scope."""
import io
import zipfile
from pathlib import Path

from sqlalchemy import select

from tests.scenario import Dibao
from workflows.attachments import MAX_BYTES, sanitize_filename
from workflows.models import Attachment

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64


def office(folder: str, *, macro: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}document.xml", "<doc/>")
        if macro:
            archive.writestr(f"{folder}vbaProject.bin", b"\x00")
    return buffer.getvalue()


def upload(client, task_id, content: bytes, name: str):
    return client.post(f"tasks/{task_id}/attachments", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _survey(login) -> tuple[Dibao, dict]:
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    login("jd_heping").post(f"tasks/{task['id']}/claim")
    return case, task


def test_api__attachment_upload_list_download(app, login):
    case, task = _survey(login)
    clerk = login("jd_heping")
    response = upload(clerk, task["id"], PDF, "../../etc/入户调查记录.pdf")
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert item["name"] == "入户调查记录.pdf" and item["size"] == len(PDF) and item["step"] == "入户调查"
    for content, name in ((PNG, "门牌.png"), (JPG, "现场.JPG"), (OLE, "旧表.doc"), (OLE, "台账.xls"),
                          (office("word/"), "报告.docx"), (office("xl/"), "收入.xlsx")):
        assert upload(clerk, task["id"], content, name).status_code == 201, name
    listed = clerk.get(f"tasks/{task['id']}/attachments").get_json()["items"]
    assert [a["name"] for a in listed][:2] == ["入户调查记录.pdf", "门牌.png"]
    # Stored under a random name in the instance folder; the row holds metadata only.
    with app.app_context():
        from web.extensions import db

        row = db.session.get(Attachment, item["id"])
        stored = Path(app.instance_path) / "attachments" / row.stored_name
        assert stored.read_bytes() == PDF
        assert len(row.stored_name) == 32 and "." not in row.stored_name
    download = clerk.get(f"tasks/{task['id']}/attachments/{item['id']}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download.headers["Content-Disposition"]
    # The reviewer of the same street may read it (not upload: the clerk holds the task); another street may not.
    reviewer = login("jd_heping_lead")
    assert reviewer.get(f"tasks/{task['id']}/attachments/{item['id']}").status_code == 200
    assert upload(reviewer, task["id"], PDF, "x.pdf").status_code == 409  # held by the clerk
    other = login("jd_anding")
    assert other.get(f"tasks/{task['id']}/attachments/{item['id']}").status_code == 404
    assert other.get(f"tasks/{task['id']}/attachments").status_code == 404
    # The history says who attached what.
    actions = [(h["action"], (h["detail"] or {}).get("name")) for h in case.case()["history"]]
    assert ("attachment_uploaded", "入户调查记录.pdf") in actions


def test_api__attachment_refusals(app, login):
    _case, task = _survey(login)
    clerk = login("jd_heping")

    def refused(content, name):
        response = upload(clerk, task["id"], content, name)
        assert response.status_code == 422, (name, response.get_json())
        return response.get_json()["error"]["fields"]["file"][0]

    assert "不支持的文件类型" in refused(b"MZ\x90\x00", "setup.exe")
    assert "不支持的文件类型" in refused(PDF, "noextension")
    assert "内容与扩展名不符" in refused(b"MZ\x90\x00" + b"\x00" * 100, "invoice.pdf")
    assert "内容与扩展名不符" in refused(PNG, "photo.jpg")
    assert "内容与扩展名不符" in refused(office("xl/"), "report.docx")
    assert "宏" in refused(office("word/", macro=True), "report.docx")
    assert "文件为空" in refused(b"", "empty.pdf")
    assert "不能超过 10 MB" in refused(PDF + b"0" * MAX_BYTES, "big.pdf")
    # Far over the limit the request itself is refused before the body is read.
    response = upload(clerk, task["id"], PDF + b"0" * 2 * MAX_BYTES, "huge.pdf")
    assert response.status_code == 413 and response.get_json()["error"]["message"] == "上传内容过大"
    assert clerk.post(f"tasks/{task['id']}/attachments", data={},
                      content_type="multipart/form-data").status_code == 422
    with app.app_context():
        from web.extensions import db

        assert db.session.scalars(select(Attachment)).all() == []
    folder = Path(app.instance_path) / "attachments"
    assert not any(p.suffix == ".part" for p in folder.glob("*")) if folder.exists() else True


def test_api__attachment_names_are_sanitised():
    assert sanitize_filename("..\\..\\windows\\system32\\cmd.pdf") == "cmd.pdf"
    assert sanitize_filename("a\x00b\u202ec<d>.pdf") == "abc_d_.pdf"
    assert sanitize_filename("  .hidden.pdf ") == "hidden.pdf"
    assert sanitize_filename("") == "附件"
    long = sanitize_filename("很长的名字" * 60 + ".pdf")
    assert len(long) <= 120 and long.endswith(".pdf")
