"""Services never name a provider: they reach one through the registry and read its profile.

The check reads every module under ``services/*/src`` as code, without its comments and
docstrings (which may explain a provider's behaviour), and looks for the name of every installed
provider except the home system (Core: every service knows there is one, and reaches it with
``registry().home()``). A service's ``config.py`` may name a provider in a default value.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

from timebridge_providers.installed import registry

ROOT = Path(__file__).resolve().parents[2]


def _code_without_prose(source: str) -> str:
    """``source`` with comments dropped and docstrings blanked."""
    docstrings: set[tuple[int, int]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add((value.lineno, value.col_offset))
    kept: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            continue
        if token.type == tokenize.STRING and token.start in docstrings:
            continue
        kept.append(token.string)
    return " ".join(kept)


def offenders() -> dict[str, list[str]]:
    names = sorted(registry().names() - {registry().home().name})
    pattern = re.compile(r"(?i)(?<![a-z])(" + "|".join(map(re.escape, names)) + r")(?![a-z])")
    found: dict[str, list[str]] = {}
    for path in sorted(ROOT.glob("services/*/src/**/*.py")):
        if path.name == "config.py":
            continue
        rel = str(path.relative_to(ROOT))
        code = _code_without_prose(path.read_text())
        hits = {m.group(1).lower() for text in (rel, code) for m in pattern.finditer(text)}
        if hits:
            found[rel] = sorted(hits)
    return found


def test_the_check_sees_a_name_in_code_but_not_in_prose() -> None:
    code = '"""Everhour keeps one record per day."""\n# everhour\nX = "everhour"\n'
    assert _code_without_prose(code).count("everhour") == 1


def test_no_service_names_a_provider() -> None:
    assert offenders() == {}
