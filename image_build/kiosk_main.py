"""Entry point of the PyInstaller bundle (image_build/kiosk.spec): the same `kiosk` command as the venv's.

PyInstaller runs its entry as a top-level script, so it cannot be kiosk/cli.py itself (relative imports).
"""

import sys

from kiosk.cli import main

if __name__ == "__main__":
    sys.exit(main())
