"""Setting up a real shop as its owner would: `init`, then the commands it prints; broken config refused in one
line with exit code 2, never a traceback."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tomllib

import pytest

from store_server.config import ConfigError, ServerConfig


def store_server(*args, config=None, timeout=90):
    cmd = [sys.executable, "-m", "store_server.cli", *(["--config", str(config)] if config else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_init_a_real_shop_then_follow_what_it_prints(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "etc" / "server.toml"
    assert "--shop-name" in one_line_error(store_server("init", "--data-dir", str(data), config=config))
    done = store_server("init", "--data-dir", str(data), "--shop-name", 'Kavun "Fresh" \\ Co', "--country", "KZ",
                        "--languages", "kk,ru", config=config)
    assert done.returncode == 0, done.stderr
    assert 'shop: Kavun "Fresh" \\ Co, country KZ, languages kk,ru, time zone Asia/Almaty' in done.stdout
    raw = tomllib.loads(config.read_text(encoding="utf-8"))  # valid TOML whatever the name holds
    assert raw["port"] == 8700 and raw["demo"] is False and len(raw["secret_key"]) > 30
    next_commands = [line.split("#")[0].strip() for line in done.stdout.splitlines()
                     if line.strip().startswith("store-server ")]
    assert next_commands and all(f"--config {config}" in c for c in next_commands)
    assert "SMS gateway" in done.stdout

    listing = store_server("settings", "list", "--json", config=config)
    values = {r["key"]: r["value"] for r in json.loads(listing.stdout)}
    assert values["public_name"] == 'Kavun "Fresh" \\ Co' and values["country"] == "KZ"
    assert values["languages"] == ["kk", "ru"] and values["timezone"] == "Asia/Almaty"

    refused = one_line_error(store_server("serve", config=config))
    assert "no SMS gateway configured" in refused and "docs/sms.md" in refused

    again = store_server("init", "--data-dir", str(data), "--languages", "ru,kk,en", config=config)
    assert again.returncode == 0 and "(kept)" in again.stdout
    values = {r["key"]: r["value"] for r in json.loads(store_server("settings", "list", "--json",
                                                                    config=config).stdout)}
    assert values["languages"] == ["ru", "kk", "en"] and values["public_name"] == 'Kavun "Fresh" \\ Co'
    assert "Mars" in one_line_error(store_server("init", "--data-dir", str(data), "--timezone", "Mars/Base",
                                                 config=config))


def test_server_with_an_invalid_stored_setting_refuses_to_start(tmp_path):
    assert store_server("init", "--data-dir", str(tmp_path), "--demo").returncode == 0
    config = tmp_path / "server.toml"
    db = sqlite3.connect(tmp_path / "store.db")
    db.execute("INSERT INTO settings (key, value) VALUES ('timezone', '\"Mars/Base\"')")
    db.commit()
    db.close()
    line = one_line_error(store_server("serve", "--port", "1", config=config))
    assert "timezone" in line and "Mars/Base" in line and "settings set timezone" in line
    assert store_server("settings", "reset", "timezone", config=config).returncode == 0


@pytest.mark.parametrize("content, says", [
    (b"data_dir = \"/x\"\nport = \"8700\"\n", "port: Input should be a valid integer"),
    (b"data_dir = \"/x\"\nport = 70000\n", "port: Input should be less than or equal to 65535"),
    (b"data_dir = \"/x\"\ndemo = \"yes\"\n", "demo: Input should be a valid boolean"),
    (b"data_dir = \"/x\"\ndatabase_url = \"mysql://x\"\n", "database_url: must be sqlite:///PATH"),
    (b"data_dir = \"/x\"\nlog_format = \"xml\"\n", "log_format: Input should be 'text' or 'json'"),
    (b"data_dir = \"/x\"\ncolour = 1\n", "unknown setting(s) colour"),
    (b"data_dir = \"/x\"\n[otp]\nsends_per_day = 1\n", "[otp]: otp setting 'sends_per_day' is unknown"),
    (b"port = 1\n", "data_dir is required"),
    (b"data_dir = \"/x\nport = 1\n", "is not valid TOML"),
    (b"data_dir = \"/\xff\xfe\"\n", "is not UTF-8 text"),
])
def test_server_toml_is_checked(tmp_path, content, says):
    path = tmp_path / "server.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=None) as err:
        ServerConfig.load(path)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_unreadable_config_is_a_config_error_on_the_command_line(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    assert "cannot be read" in one_line_error(store_server("settings", "list", config=tmp_path / "dir.toml"))
    missing = one_line_error(store_server("settings", "list", config=tmp_path / "none.toml"))
    assert "not found" in missing and "init" in missing


def test_old_server_toml_keys_still_load(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(f'data_dir = "{tmp_path}"\nshop_name = "Old"\ncountry = "UA"\nlanguages = ["uk"]\n')
    assert ServerConfig.load(path).port == 8700
