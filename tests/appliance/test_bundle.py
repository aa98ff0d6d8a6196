"""The PyInstaller bundle (image_build/kiosk.spec): built from this checkout, then started headless (Xvfb)
as kiosk.service would start it, up to READY=1 on the attract screen and watchdog pings.

Slow: the build takes about a minute on two cores, so it is marked `slow` (`-m "not slow"` leaves it out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.appliance.notify import enrolled_device, run_until_ready

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.ui, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("PyInstaller", reason="pyinstaller is in the dev extra: pip install -e '.[dev]'")
    work = tmp_path_factory.mktemp("pyinstaller")
    subprocess.run([sys.executable, "-m", "kiosk.i18n.build"], cwd=REPO, check=True, capture_output=True)
    built = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "ERROR", "--distpath",
         str(work / "dist"), "--workpath", str(work / "build"), str(REPO / "image_build" / "kiosk.spec")],
        cwd=work, capture_output=True, text=True, timeout=540, check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    return work / "dist" / "kiosk"


def test_bundle_holds_the_screens_catalogues_and_fonts(bundle: Path) -> None:
    inside = bundle / "_internal" / "kiosk"
    shipped = {p.name for p in (REPO / "kiosk/screens").glob("*.kv")}
    assert {p.name for p in (inside / "screens").glob("*.kv")} == shipped
    languages = {p.parent.parent.name for p in (REPO / "kiosk/i18n").glob("*/LC_MESSAGES/kiosk.po")}
    assert {p.parent.parent.name for p in (inside / "i18n").glob("*/LC_MESSAGES/kiosk.mo")} == languages
    assert (inside / "fonts" / "NotoSans-Regular.ttf").stat().st_size > 100_000
    # Mesa comes from the device's OS, matching its GPU and kernel.
    names = [p.name for p in (bundle / "_internal").rglob("*.so*")]
    assert not [n for n in names if n.startswith(("libGL.", "libEGL", "libGLES", "libgbm", "libdrm"))], names
    # The store server's web stack is not shipped to the kiosk.
    assert not list((bundle / "_internal").glob("fastapi*")) and not list((bundle / "_internal").glob("sqlalchemy*"))


def test_bundle_starts_to_the_attract_screen(bundle: Path, store_server, tmp_path: Path) -> None:
    env = enrolled_device(store_server, tmp_path / "device")
    (tmp_path / "device" / "kiosk.toml").write_text(
        (tmp_path / "device" / "kiosk.toml").read_text().replace('language = "en"', 'language = "uk"'))
    messages = run_until_ready([str(bundle / "kiosk"), "run"], env, tmp_path / "notify.sock")
    assert "READY=1\nSTATUS=kiosk up, screen attract" in messages


def test_bundle_selftest_finds_drivers_and_pin_factories(bundle: Path, store_server, tmp_path: Path) -> None:
    env = enrolled_device(store_server, tmp_path / "device")
    config = tmp_path / "device" / "kiosk.toml"
    # gpiozero finds the "mock" factory by entry point: this fails if the spec lost gpiozero's metadata.
    config.write_text(config.read_text() + '\n[indicators]\nbackend = "gpio"\ngreen = 17\nbuzzer = 22\n')
    result = subprocess.run([str(bundle / "kiosk"), "selftest"], capture_output=True, text=True, timeout=120,
                            check=False, env={**os.environ, **env, "GPIOZERO_PIN_FACTORY": "mock",
                                              "KIVY_NO_CONSOLELOG": "1"})
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "ok    indicators  green 17, buzzer 22" in result.stdout
    assert "ok    server" in result.stdout
