"""A throwaway PostgreSQL cluster on loopback for the KIOSK_TEST_PG=1 test job (Debian's postgresql)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.server import free_port


def pg_bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def enabled() -> bool:
    return os.environ.get("KIOSK_TEST_PG") == "1"


class Cluster:
    def __init__(self) -> None:
        # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
        self.root, self.port = Path(tempfile.mkdtemp(prefix="kiosk-pg-")), free_port()
        self.data = self.root / "data"
        # initdb refuses to run as root; Debian's package brings the postgres user to run it as.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.count = 0

    def run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, text=True)

    def start(self) -> Cluster:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not (initdb and pg_ctl):
            raise RuntimeError("KIOSK_TEST_PG=1 but PostgreSQL is not installed (apt-get install postgresql)")
        if self.prefix:
            shutil.chown(self.root, "postgres")
        self.run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.run(pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start", "-o",
                 f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off -c full_page_writes=off")
        return self

    def new_database(self) -> str:
        import psycopg

        self.count += 1
        name = f"t{self.count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.prefix, pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
