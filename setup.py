"""Builds compile the kiosk's and the back office's .po catalogues into the .mo files gettext reads
(kiosk.i18n.build, the same step scripts/test runs), so every wheel, and the image made from it, speaks every
language: .mo files are build products and never committed. Everything else about the package is in pyproject.toml."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, str(Path(__file__).resolve().parent))


class BuildPyWithCatalogues(build_py):
    def run(self) -> None:
        from kiosk.i18n.build import compile_all  # needs babel: [build-system] requires in pyproject.toml

        compile_all()
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogues})
