"""The monthly payment run over 1,000,000 active recipients on PostgreSQL (issue: after approval, item 7).

Loads (once; later runs reuse it) BENCH_PAYMENT_RECIPIENTS (default 1,000,000) approved cases, their recipients
(20 streets, a tenth of them rural, a bank account each) and one 'approved' change row each — with
`INSERT … SELECT … FROM generate_series`, in 100,000-row chunks — into BENCH_PAYMENT_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_pay, created if missing; the schema is the app's own
migrations). Then times creating the run for that month through the service the API calls
(workflows.register.payment_runs.create_run: batches of 20,000 recipient ids, each an INSERT … SELECT committed on
its own, then the totals), and, in the same process and through the same driver, a floor: a bare
`INSERT INTO scratch SELECT … FROM generate_series(1, N)` of rows shaped like payment lines (same columns and
types, a primary key, no other index, no lookups). Prints both and the ratio; the target is under 60 s.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime

from sqlalchemy import text

from bench.floors import ensure_database
from web.app import create_app
from web.cli import upgrade_database
from web.extensions import db
from workflows.demo import DISTRICT, seed
from workflows.register.payment_runs import create_run

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_pay"
NOW = datetime.fromisoformat("2026-06-02T10:00:00+08:00")
MONTH = "2026-06"
CHUNK = 100_000
TARGET_SECONDS = 60
STREETS = ["和平街道", "安定街道"] + [f"第{i}街道" for i in range(3, 21)]


def _streets() -> str:
    return "ARRAY[" + ", ".join(f"'{s}'" for s in STREETS) + "]"


def _load(conn, count: int) -> None:
    conn.execute(text("TRUNCATE payments, payment_runs, reviews, recipient_changes, recipients, cases "
                      "RESTART IDENTITY CASCADE"))
    started = time.perf_counter()
    streets = _streets()
    for low in range(1, count + 1, CHUNK):
        high = min(low + CHUNK - 1, count)
        params = {"low": low, "high": high, "district": DISTRICT, "now": NOW}
        conn.execute(text(f"""
            INSERT INTO cases (id, program, district, street, community, applicant_name, applicant_id_number,
                household, household_size, declared_monthly_income, status, relatives_filed, objected, created_by,
                created_at, updated_at, decided_at)
            SELECT g, 'dibao', :district, ({streets})[1 + g % 20], '社区' || (g % 60), '户主' || g,
                   '110105197001' || lpad((g % 1000000)::text, 6, '0'), '{{"members": []}}', 1 + g % 4,
                   300, 'approved', false, false, 'bench', :now, :now, :now
            FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g"""), params)
        conn.execute(text(f"""
            INSERT INTO recipients (id, case_id, program, rule_set, district, street, community, area, head_name,
                head_id_number, household, household_size, monthly_income, category, monthly_amount, breakdown,
                status, since_month, next_review_due, labour_refusals, bank_name, account_number, created_at,
                updated_at)
            SELECT g, g, 'dibao', 'dibao', :district, ({streets})[1 + g % 20], '社区' || (g % 60),
                   CASE WHEN g % 10 = 0 THEN 'rural' ELSE 'urban' END, '户主' || g,
                   '110105197001' || lpad((g % 1000000)::text, 6, '0'), '{{"members": []}}', 1 + g % 4, 300,
                   'stable', 500 + (g % 2000) + 0.05, '{{}}', 'active', '2026-01', DATE '2026-07-01', '{{}}',
                   '工商银行', '6222' || lpad(g::text, 15, '0'), :now, :now
            FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g"""), params)
        conn.execute(text("""
            INSERT INTO recipient_changes (recipient_id, kind, effective_month, new_amount, new_status, reason,
                actor, at)
            SELECT g, 'approved', '2026-01', 500 + (g % 2000) + 0.05, 'active', '审批通过', 'bench', :now
            FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g"""), params)
        conn.commit()
        print(f"   loaded {high:,} recipients ({time.perf_counter() - started:.0f} s)", flush=True)
    for table in ("cases", "recipients", "recipient_changes"):
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    conn.execute(text("ANALYZE cases, recipients, recipient_changes"))
    conn.commit()


def _floor(conn, count: int) -> float:
    """A bare INSERT … SELECT of `count` payment-shaped rows: what the database needs to write them at all."""
    conn.execute(text("DROP TABLE IF EXISTS bench_scratch"))
    conn.execute(text("""
        CREATE TABLE bench_scratch (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL, recipient_id BIGINT NOT NULL,
            for_month VARCHAR(7) NOT NULL, street VARCHAR(50) NOT NULL, amount NUMERIC(12, 2) NOT NULL,
            district_share NUMERIC(12, 2) NOT NULL, township_share NUMERIC(12, 2) NOT NULL,
            status VARCHAR(20) NOT NULL, reason VARCHAR(500), carried_from_id BIGINT, bank_name VARCHAR(100),
            account_number VARCHAR(30), settled_at TIMESTAMP WITH TIME ZONE)"""))
    conn.commit()
    started = time.perf_counter()
    conn.execute(text(f"""
        INSERT INTO bench_scratch (run_id, recipient_id, for_month, street, amount, district_share, township_share,
            status, bank_name, account_number)
        SELECT 1, g, '{MONTH}', ({_streets()})[1 + g % 20], 500 + (g % 2000) + 0.05,
               round((500 + (g % 2000) + 0.05) * 0.5, 2), (500 + (g % 2000) + 0.05) - round((500 + (g % 2000)
               + 0.05) * 0.5, 2), 'pending', '工商银行', '6222' || lpad(g::text, 15, '0')
        FROM generate_series(1, CAST(:n AS bigint)) AS g"""), {"n": count})
    conn.commit()
    seconds = time.perf_counter() - started
    conn.execute(text("DROP TABLE bench_scratch"))
    conn.commit()
    return seconds


def run() -> dict:
    url = os.environ.get("BENCH_PAYMENT_DATABASE_URL", DEFAULT_URL)
    count = int(os.environ.get("BENCH_PAYMENT_RECIPIENTS", "1000000"))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ensure_database(url)
    app = create_app({"DATABASE_URL": url, "JIUZHU_CLOCK": "simulated", "JIUZHU_CLOCK_START": NOW.isoformat(),
                      "SECRET_KEY": "bench", "JIUZHU_ENV": "development"})
    with app.app_context():
        upgrade_database()
        seed(db.session)
        with db.engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM recipients")).scalar()
            if loaded != count:
                print(f"   loading {count:,} recipients …", flush=True)
                _load(conn, count)
            else:
                print(f"   reusing {count:,} recipients", flush=True)
            conn.execute(text("TRUNCATE payments, payment_runs RESTART IDENTITY"))
            conn.commit()
        engine = app.extensions["jiuzhu.engine"]
        batches = []
        started = time.perf_counter()
        run_row, _ = create_run(db.session, program="dibao", district=DISTRICT, month=MONTH, actor="bench",
                                now=NOW, calendar=engine.calendar,
                                on_batch=lambda written, expected: batches.append(written))
        seconds = time.perf_counter() - started
        households, total, by_funding = run_row.households, run_row.total, dict(run_row.by_funding)
        db.session.remove()
        with db.engine.connect() as conn:
            floor = _floor(conn, count)
    ratio = seconds / floor if floor else float("nan")
    verdict = "within" if seconds < TARGET_SECONDS else "OVER"
    print(f"   payment run of {households:,} households, {total} yuan (district {by_funding['district']}, "
          f"township {by_funding['township']}) in {len(batches) - 1} batches", flush=True)
    print(f"   create run: {seconds:.1f} s ({verdict} the {TARGET_SECONDS} s target)", flush=True)
    print(f"   floor (bare INSERT … SELECT of {count:,} payment-shaped rows): {floor:.1f} s; ratio {ratio:.1f}×",
          flush=True)
    return {"recipients": count, "households": households, "run_seconds": round(seconds, 1),
            "floor_seconds": round(floor, 1), "ratio": round(ratio, 1), "target_seconds": TARGET_SECONDS}


if __name__ == "__main__":
    run()
