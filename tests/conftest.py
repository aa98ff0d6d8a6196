from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Under CI every property test draws the same examples (derandomize), so a submission passes or fails on its code,
# not on the draw; local runs stay random and keep finding new cases (write what they find down as @example).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from tests.support.server import init_demo_server  # noqa: E402


@pytest.fixture(scope="module")
def store_server(tmp_path_factory):
    """A real demo store server process on a loopback port, shared by a test module."""
    server = init_demo_server(tmp_path_factory.mktemp("server")).start()
    yield server
    server.stop()
