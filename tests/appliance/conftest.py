"""`@pytest.mark.requires_tool("systemd-analyze", "systemd")`: skip on a developer's machine that lacks the
program, but fail under CI (CI=true), where scripts/bootstrap.sh installs it and a skip would hide that the
units or the image users were never checked."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_tool(program, package): needs a system program on PATH")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_tool"):
        program, package = mark.args
        if shutil.which(program) is None:
            message = f"{program} is missing (Debian package: {package}; scripts/bootstrap.sh installs it as root)"
            if in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)


@pytest.fixture(scope="session")
def store_server(tmp_path_factory: pytest.TempPathFactory):
    """One real store server process for all appliance tests (each module starting its own cost seconds);
    every test enrols its own device with its own token, so they do not see each other."""
    from tests.support.server import init_demo_server

    server = init_demo_server(tmp_path_factory.mktemp("appliance-server")).start()
    yield server
    server.stop()
