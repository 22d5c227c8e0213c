"""``deploy/local`` holds scripts, not a package: its modules are imported by name from there
(as ``python deploy/local/dev.py`` finds them; mypy has the directory on its path too)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy/local"))
