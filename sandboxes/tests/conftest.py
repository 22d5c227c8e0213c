"""This folder is not a package (pytest would name it ``tests``, as every other ``tests``
folder): a helper module shared by its tests is imported by its full name from the repository
root, ``sandboxes.tests.<helper>`` (namespace packages), which mypy resolves the same way."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.append(ROOT)
