"""kiosk.toml is checked when it loads: a wrong value stops the kiosk with one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kiosk.config import ConfigError, KioskConfig


@pytest.mark.parametrize("content, says", [
    (b'language = "de"\n', "language must be one of en, uk, ru, kk, vi, not 'de'"),
    (b'languages = ["uk", "xx"]\n', "'xx' is not one"),
    (b"languages = []\n", "languages must list some of"),
    (b"width = -5\n", "width must be the window's size in pixels"),
    (b"height = true\n", "height must be a whole number"),
    (b'ca_bundle = "/nowhere/shop-ca.pem"\n', "ca_bundle '/nowhere/shop-ca.pem' is not a readable file"),
    (b'country = "XX"\n', "country must be an ISO 3166 code"),
    (b'server_url = "shop:8700"\n', "server_url must start with http:// or https://"),
    (b'role = "boss"\n', "role must be one of entrance, cashier"),
    (b"colour = 1\n", "unknown setting(s) colour"),
    (b'language = "uk\n', "is not valid TOML"),
    (b'language = "\xd0\xba\xff"\n', "is not UTF-8 text"),
])
def test_wrong_values_are_refused_with_one_line(tmp_path, content, says):
    path = tmp_path / "kiosk.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        KioskConfig.load(path)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_unreadable_or_missing_file_is_a_config_error(tmp_path):
    (tmp_path / "kiosk.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot be read"):
        KioskConfig.load(tmp_path / "kiosk.toml")
    with pytest.raises(ConfigError, match="not found"):
        KioskConfig.load(tmp_path / "none.toml")


def test_a_good_file_loads(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = tmp_path / "kiosk.toml"
    path.write_text(f'language = "kk"\nlanguages = ["kk", "ru"]\ncountry = "KZ"\nwidth = 1280\nheight = 720\n'
                    f'ca_bundle = "{ca}"\n', encoding="utf-8")
    config = KioskConfig.load(path)
    assert (config.language, config.languages, config.width, config.ca_bundle) == ("kk", ["kk", "ru"], 1280, str(ca))


@pytest.mark.parametrize("content", [b'language = "de"\n', b'language = "\xff"\n', b"width = -5\n"])
def test_the_kiosk_command_refuses_a_bad_file_in_one_line(tmp_path, content):
    path = tmp_path / "kiosk.toml"
    path.write_bytes(content)
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(path), "queue", "status"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KIOSK_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("kiosk: ") and len(out.stderr.strip().splitlines()) == 1
