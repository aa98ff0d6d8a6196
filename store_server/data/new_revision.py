"""For developers: write the revision for a change to store_server/data/db.py.

    python -m store_server.data.new_revision "cashiers and their PINs"

builds a scratch SQLite database from the existing revisions, compares it with db.py (Alembic autogenerate) and
writes store_server/data/migrations/versions/NNNN_<words>.py on top of the newest revision. Read what it wrote:
autogenerate misses renames and server-side defaults, and a new NOT NULL column on a table with rows needs a
server_default (or a data step) in upgrade(). tests/server/test_migrations.py then checks it on both backends.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from alembic import command

    from . import migrate
    from .db import make_engine

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].strip():
        print(__doc__, file=sys.stderr)
        return 2
    message = args[0].strip()
    number = int(migrate.head().split("_", 1)[0]) + 1
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    rev_id = f"{number:04d}_{slug}"[:32].rstrip("_")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            cfg = migrate._config(conn)
            cfg.set_main_option("file_template", "%%(rev)s")  # the id already carries the words
            command.upgrade(cfg, "head")
            script = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    print(f"wrote {script.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
