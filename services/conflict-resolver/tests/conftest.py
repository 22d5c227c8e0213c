"""This folder is not a package: a module shares its rig with another by name (the write-race
tests use the sync handlers' world), so the folder is put on the import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
