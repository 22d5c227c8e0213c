"""No log call passes ``event=``: in structlog that is the message itself (the first argument),
so ``log.info("...", event=x)`` raises ``TypeError`` where it runs. One did in mapping's slot
release and ended every round after its first entry (issue 12); this keeps the class out of
every service, library, sandbox and script."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["libs", "services", "sandboxes", "deploy", "bench"]
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "msg"}
LOG_METHODS |= {f"a{name}" for name in LOG_METHODS} | {"bind", "new", "log"}


def offending_calls(source: str) -> list[int]:
    """Lines of calls ``<something>.<log method>(..., event=...)`` in ``source``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LOG_METHODS
        and any(keyword.arg == "event" for keyword in node.keywords)
    ]


def test_the_check_finds_the_defect_it_guards_against() -> None:
    assert offending_calls('log.info("released", entry=1, event="EntryMapped")\n') == [1]
    assert offending_calls('log.info("released", entry=1, outcome="EntryMapped")\n') == []


def test_no_log_call_passes_event_as_a_keyword() -> None:
    files = [
        path
        for top in SOURCES
        for path in (ROOT / top).rglob("*.py")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    ]
    assert len(files) > 100
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in files
        for line in offending_calls(path.read_text())
    }
    assert found == set()
