"""Customer files imported from the back office: checked on upload, then imported by a background job.

The file is kept in import_jobs until it is imported, so the job does not depend on the browser staying open.
The import itself is store_server/importer.py's (the command line's engine) in ONE write transaction: any wrong
line, or a card taken meanwhile, and nothing of the file stays. Its progress cannot live in the database (the
transaction holds SQLite's write lock, and its rows are invisible until it commits), so the job writes it to a
small file every process on this machine can read; the page polls whichever process answers.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import uuid
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from .. import clock, csv_input, importer
from ..data.db import import_jobs, write_transaction
from . import audit

MAX_BYTES = 10 * 1024 * 1024  # some 100,000 customers; a bigger file goes through `store-server import`
PREVIEW = 20  # rows shown before importing
PROGRESS_DIR = Path(tempfile.gettempdir()) / "store-server-imports"
log = logging.getLogger(__name__)


def create(conn: Connection, *, by: str, filename: str, source: csv_input.CsvText) -> str:
    job_id = str(uuid.uuid4())
    report, _rows = importer.check(conn, source.text, delimiter=source.delimiter)
    conn.execute(insert(import_jobs).values(
        id=job_id, created_by=by, created_at=clock.now(), filename=filename[:200] or "customers.csv",
        encoding=source.encoding, delimiter=source.delimiter, data=source.text, rows=report.rows,
        status="checked", imported=0, balances=0))
    return job_id


def get(conn: Connection, job_id: str) -> dict | None:
    row = conn.execute(select(import_jobs).where(import_jobs.c.id == job_id[:36])).mappings().first()
    return dict(row) if row else None


def recent(conn: Connection, limit: int = 10) -> list[dict]:
    return [dict(r) for r in conn.execute(select(import_jobs.c.id, import_jobs.c.created_at, import_jobs.c.created_by,
                                                 import_jobs.c.filename, import_jobs.c.rows, import_jobs.c.status,
                                                 import_jobs.c.imported, import_jobs.c.balances)
                                          .order_by(import_jobs.c.created_at.desc()).limit(limit)).mappings()]


def preview(conn: Connection, job: dict) -> tuple[list[dict], list[tuple[int, str]], list[str]]:
    """(the first rows with their problems, every problem by line, the columns) - checked again now, against
    the cards and customers as they are at this moment."""
    import csv
    import io

    report, _rows = importer.check(conn, job["data"] or "", delimiter=job["delimiter"])
    reader = csv.reader(io.StringIO(job["data"] or "", newline=""), delimiter=job["delimiter"])
    header = next(reader, [])
    by_line: dict[int, list[str]] = {}
    for line, problem in report.errors:
        by_line.setdefault(line, []).append(problem)
    rows = []
    for values in reader:
        if len(rows) >= PREVIEW:
            break
        rows.append({"line": reader.line_num, "cells": values, "problems": by_line.get(reader.line_num, [])})
    return rows, report.errors, header


def _progress_path(job_id: str) -> Path:
    return PROGRESS_DIR / f"{job_id}.json"


def _write_progress(job_id: str, done: int, total: int) -> None:
    PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = _progress_path(job_id).with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"done": done, "total": total, "pid": os.getpid(), "host": socket.gethostname()}))
    os.replace(tmp, _progress_path(job_id))  # a reader sees the old figure or the new one, never half


def progress(conn: Connection, job_id: str) -> dict | None:
    job = conn.execute(select(import_jobs.c.status, import_jobs.c.rows, import_jobs.c.imported,
                              import_jobs.c.balances, import_jobs.c.error)
                       .where(import_jobs.c.id == job_id[:36])).mappings().first()
    if job is None:
        return None
    answer = {"status": job["status"], "total": job["rows"], "done": job["imported"], "balances": job["balances"],
              "problems": problems_of(job)}
    if job["status"] == "running":
        try:
            answer.update(json.loads(_progress_path(job_id).read_text()))
        except (OSError, ValueError):
            answer["done"] = 0
        answer["gone"] = _runner_gone(answer)
    return answer


def give_up(engine: Engine, job_id: str) -> None:
    """The process that ran the job stopped (a restart, a crash): its transaction was rolled back, so nothing
    was imported; the job says so instead of a progress bar that never moves."""
    with write_transaction(engine) as conn:
        conn.execute(update(import_jobs).where(import_jobs.c.id == job_id, import_jobs.c.status == "running")
                     .values(status="failed", error=_fitting([{"line": None, "code": "crashed", "values": {}}]),
                             finished_at=clock.now()))
    _progress_path(job_id).unlink(missing_ok=True)


def _runner_gone(progress: dict) -> bool:
    if progress.get("host") != socket.gethostname() or not isinstance(progress.get("pid"), int):
        return False  # another machine's job (PostgreSQL), or not started yet: cannot tell
    try:
        os.kill(progress["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def start(engine: Engine, job_id: str, *, by: str, address: str) -> bool:
    """Marks the job running (once, whichever process is asked) and imports it in a thread; False when it was
    not waiting to be imported (already running, done, or failed)."""
    with write_transaction(engine) as conn:
        claimed = conn.execute(update(import_jobs).where(import_jobs.c.id == job_id, import_jobs.c.status == "checked")
                               .values(status="running")).rowcount == 1
    if claimed:
        _write_progress(job_id, 0, 0)
        threading.Thread(target=run, args=(engine, job_id), kwargs={"by": by, "address": address},
                         name=f"import-{job_id[:8]}", daemon=True).start()
    return claimed


def run(engine: Engine, job_id: str, *, by: str, address: str) -> None:
    """The whole file in one transaction; the job row says how it ended."""
    with engine.connect() as conn:
        job = get(conn, job_id)
    error, report = None, None
    try:
        with write_transaction(engine) as conn:
            report = importer.import_customers(
                conn, job["data"] or "", delimiter=job["delimiter"], by=by,
                progress=lambda done, total: _write_progress(job_id, done, total) if done % 25 == 0 or done == total
                else None)
            if report.errors:
                raise _Refused(report)
            audit.record(conn, account=by, action="customers_imported", target=job["filename"],
                         details={"job": job_id, "customers": report.imported, "opening_balances": report.balances},
                         address=address)
            conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(
                status="done", imported=report.imported, balances=report.balances, data=None,
                finished_at=clock.now()))
    except _Refused as e:
        error = [{"line": line, "code": p.code, "values": p.values} for line, p in e.report.errors[:20]]
    except IntegrityError:
        error = [{"line": None, "code": "taken_meanwhile", "values": {}}]
    except Exception:  # noqa: BLE001 - whatever it was, the job must end as failed, not stay running
        log.exception("import %s failed", job_id)
        error = [{"line": None, "code": "crashed", "values": {}}]
    finally:
        _progress_path(job_id).unlink(missing_ok=True)
    if error is not None:
        with write_transaction(engine) as conn:
            conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(
                status="failed", imported=0, balances=0, error=_fitting(error), finished_at=clock.now()))


def _fitting(problems: list[dict]) -> str:
    """The problems as JSON within the column's 1000 characters (fewer of them when they are long)."""
    while True:
        text = json.dumps(problems, default=str, ensure_ascii=False)
        if len(text) <= 1000 or len(problems) == 1:
            return text[:1000]
        problems = problems[:-1]


def problems_of(job: dict) -> list[dict]:
    """Why a failed job failed: [{line, code, values}]."""
    try:
        found = json.loads(job.get("error") or "[]")
    except ValueError:
        return [{"line": None, "code": "crashed", "values": {}}]
    return found if isinstance(found, list) else []


class _Refused(Exception):
    def __init__(self, report: importer.ImportReport) -> None:
        super().__init__("refused")
        self.report = report
