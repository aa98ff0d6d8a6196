"""The app wheel exactly as both images get it (image_build/stage_files.sh: `git archive` of HEAD, then
`pip wheel`): the compiled catalogues of every language are inside, though .mo files are never committed,
and the pinned constraints go with it. Without them the kiosk would speak English in every language."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kiosk import i18n

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = tmp_path_factory.mktemp("stage") / "files"
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(REPO / "image_build/stage_files.sh"), str(files), "--with-store-server"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return files


def test_the_image_wheel_carries_every_compiled_catalogue(stage_files: Path) -> None:
    # No .mo is committed, so none is in the snapshot: only the wheel's build makes them.
    committed = subprocess.run(["git", "ls-files", "*.mo"], cwd=REPO, capture_output=True, text=True, check=True)
    assert committed.stdout == ""
    [wheel] = (stage_files / "dist").glob("loyalty_kiosk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for lang in i18n.LANGUAGES:
        assert f"kiosk/i18n/{lang}/LC_MESSAGES/kiosk.mo" in names, f"no {lang} catalogue in {wheel.name}"
        assert f"store_server/admin/locale/{lang}/LC_MESSAGES/admin.mo" in names, f"no {lang} back office"


def test_the_image_installs_with_the_repo_constraints(stage_files: Path) -> None:
    assert (stage_files / "dist/constraints.txt").read_text() == (REPO / "constraints.txt").read_text()
    assert (stage_files / "build.env").read_text() == "KIOSK_WITH_STORE_SERVER=1\n"
    pins = {line.split("==")[0].lower() for line in (REPO / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert {"kivy", "fastapi", "sqlalchemy", "uvicorn", "requests", "evdev", "gpiozero"} <= pins


def test_a_language_without_catalogue_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "uk/LC_MESSAGES").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="kiosk.i18n"):
        assert i18n.warn_missing_catalogues(["uk", "uk"], tmp_path) == ["uk"]
    assert [r.getMessage() for r in caplog.records if r.name == "kiosk.i18n"] == [
        "no compiled catalogue for language 'uk': its screens show English (the app was built without "
        "`python -m kiosk.i18n.build`; `kiosk selftest` fails until it is reinstalled)"]
    assert i18n.warn_missing_catalogues(["uk", "en"]) == []


def test_constraints_pin_every_package_the_app_installs() -> None:
    """Every distribution loyalty-kiosk[kiosk,server] pulls in (transitively, resolved in this venv, which
    bootstrap.sh installs with the same constraints) is pinned, at the version installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    seen: set[str] = set()
    todo = [("loyalty-kiosk", {"kiosk", "server"})]
    while todo:
        name, extras = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in seen:
                seen.add(dep)
                todo.append((dep, set(req.extras)))
    unpinned = sorted(seen - set(pins))
    assert not unpinned, f"constraints.txt lacks {unpinned}: run scripts/freeze-constraints"
    stale = {d: (pins[d], metadata.version(d)) for d in seen if metadata.version(d) != pins[d]}
    assert not stale, f"installed versions differ from constraints.txt (pin, installed): {stale}"
