"""`store-server` as a technician meets it: --version, a description and an example for every command, --json on
the list and report commands, and one line with an exit code for every failure, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from store_server import __version__
from store_server.cli import build_parser
from store_server.cli_help import EXAMPLES, JSON_COMMANDS, leaves


def store_server(*args, config=None):
    cmd = [sys.executable, "-m", "store_server.cli", *(["--config", str(config)] if config else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_every_command_has_a_description_and_an_example():
    missing = []
    for full, sub, _help in leaves(build_parser()):
        text = sub.format_help()
        if not sub.description or "Example" not in text:
            missing.append(full)
        if full in EXAMPLES:
            assert EXAMPLES[full].startswith(f"store-server {full}") or full == "init", full
    assert not missing, f"add a description and an example (store_server/cli_help.py) for: {missing}"


def test_version():
    out = store_server("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"store-server {__version__}"


def test_list_and_report_commands_speak_json(tmp_path):
    assert store_server("init", "--data-dir", str(tmp_path), "--demo").returncode == 0
    config = tmp_path / "server.toml"
    for command in JSON_COMMANDS:
        out = store_server(*command.split(), "--json", config=config)
        assert out.returncode == 0, (command, out.stderr)
        parsed = json.loads(out.stdout)
        assert isinstance(parsed, list | dict), command
    rules = json.loads(store_server("rules", "list", "--json", config=config).stdout)
    assert rules[0]["name"] == "10% back" and rules[0]["value"] == 1000


def test_failures_are_one_line(tmp_path):
    config = tmp_path / "server.toml"
    config.write_text(f'data_dir = "{tmp_path}"\ndatabase_url = "sqlite:///{tmp_path}/no/such/dir/store.db"\n')
    out = store_server("rules", "list", config=config)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("store-server: the database failed") and len(out.stderr.strip().splitlines()) == 1
