"""The back office's import job (store_server/admin/imports.py) without a browser: the progress it reports while
its transaction runs, and a job claimed once however often it is started."""

from __future__ import annotations

from sqlalchemy import func, select

from store_server import csv_input, shop
from store_server.admin import imports
from store_server.data.db import create_schema, customers, make_engine


def test_the_progress_is_readable_while_the_import_runs_and_a_job_runs_once(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
    data = "phone,card_number,balance\n" + "".join(f"+38050555{n:04d},{10001 + n},{n + 1}\n" for n in range(100))
    with engine.begin() as conn:
        job_id = imports.create(conn, by="olga", filename="old.csv", source=csv_input.read(data.encode()))
    seen = []
    write = imports._write_progress

    def spy(job: str, done: int, total: int) -> None:
        write(job, done, total)
        if total:  # what a poll from another connection (another worker) reads at this moment
            with engine.connect() as conn:
                answer = imports.progress(conn, job)
                seen.append((answer["status"], answer["done"], answer["total"]))
                assert conn.execute(select(func.count()).select_from(customers)).scalar() == 0  # not yet committed

    monkeypatch.setattr(imports, "_write_progress", spy)
    monkeypatch.setattr(imports.threading, "Thread", _Inline)
    assert imports.start(engine, job_id, by="olga", address="127.0.0.1") is True
    assert seen == [("running", n, 100) for n in (25, 50, 75, 100)]
    assert imports.start(engine, job_id, by="olga", address="127.0.0.1") is False  # done: not again
    with engine.connect() as conn:
        final = imports.progress(conn, job_id)
        job = imports.get(conn, job_id)
    assert final["status"] == "done" and final["done"] == 100 and final["balances"] == sum(range(1, 101)) * 100
    assert job["data"] is None  # the file is not kept once imported
    assert not imports._progress_path(job_id).exists()


class _Inline:
    """A thread that runs at start(), so the test sees the whole job."""

    def __init__(self, target, args=(), kwargs=None, **_ignored) -> None:
        self.run = lambda: target(*args, **(kwargs or {}))

    def start(self) -> None:
        self.run()


def test_a_job_whose_process_died_ends_failed_instead_of_running_for_ever(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from sqlalchemy import update

    from store_server.data.db import import_jobs

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        shop.seed_demo(conn)
        job_id = imports.create(conn, by="olga", filename="old.csv",
                                source=csv_input.read(b"phone,card_number\n+380505550001,10001\n"))
        conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(status="running"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    imports.PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
    imports._progress_path(job_id).write_text(json.dumps({"done": 0, "total": 1, "pid": int(dead.stdout),
                                                          "host": socket.gethostname()}))
    with engine.connect() as conn:
        assert imports.progress(conn, job_id)["gone"] is True
    imports.give_up(engine, job_id)
    with engine.connect() as conn:
        answer = imports.progress(conn, job_id)
    assert answer["status"] == "failed" and answer["problems"][0]["code"] == "crashed" and "gone" not in answer
    assert not imports._progress_path(job_id).exists()
