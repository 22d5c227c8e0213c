"""This folder is not a package: its shared rig (``accounting_tool_rigs``) is imported by name
from here, as ``tests/deploy`` imports ``deploy/local``'s modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
