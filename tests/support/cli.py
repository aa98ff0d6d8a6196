"""`store-server ARGS` run inside the test process, for set-up (demo servers, accounts, enrolment tokens, shops).

Each `python -m store_server.cli` costs a new interpreter importing SQLAlchemy, pydantic and the server: about
0.6 s of CPU, 2-3 s of wall time on a loaded machine, and the suite made hundreds of them (84 in tests/admin
alone, 40 % of its time). In-process, a call is the same `main()` with the same arguments, exit code, stdout
and stderr. Tests whose subject is the command as a process (exit codes seen by a shell, signals, several
processes at once, the installed entry point) keep running it as one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

# sys.stdout/stderr/stdin and the umask belong to the whole process: one call at a time.
_LOCK = threading.Lock()


def run_cli(*args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """What `subprocess.run([python, -m, store_server.cli, *args], input=input, capture_output=True, text=True)`
    returns, without the new process."""
    from store_server.cli import main

    out, err = io.StringIO(), io.StringIO()
    engines: dict[int, Engine] = {}

    def opened(conn) -> None:
        engines[id(conn.engine)] = conn.engine

    with _LOCK:
        mask = os.umask(0o022)
        os.umask(mask)  # main() tightens the process's umask; the tests' own files keep theirs
        event.listen(Engine, "engine_connect", opened)
        try:
            with (contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
                  _stdin(io.StringIO(input or ""))):
                try:
                    code = main([str(a) for a in args])
                except SystemExit as e:  # argparse's usage errors
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        finally:
            event.remove(Engine, "engine_connect", opened)
            os.umask(mask)
            # The commands' engines would keep their connections (files, PostgreSQL sessions) until collected.
            for engine in engines.values():
                engine.dispose()
    done = subprocess.CompletedProcess([sys.executable, "-m", "store_server.cli", *map(str, args)], code or 0,
                                       out.getvalue(), err.getvalue())
    if check:
        done.check_returncode()
    return done


@contextlib.contextmanager
def _stdin(stream):
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved
