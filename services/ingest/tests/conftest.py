"""This folder is not a package: a module shares its rig with another by name (the lean
webhook path's tests reuse the Core webhook tests' service), so the folder is put on the
import path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
