"""The provider matrix (``docs/providers.md``), generated from the installed providers' profiles.

Written from the registry so the table cannot drift from the code: ``python -m
timebridge_providers.matrix > docs/providers.md`` regenerates it, and a test compares the file with
this output.
"""

import sys

from timebridge_providers.installed import registry
from timebridge_providers.kit.registry import Capability, Provider, Registry

_CAPABILITIES: tuple[Capability, ...] = (
    "observe",
    "entries",
    "directory",
    "report",
    "accounting",
    "time_off",
)

_HEADER = """# Providers

Generated from the installed providers' profiles (`python -m timebridge_providers.matrix >
docs/providers.md`); a test fails when this file and the code disagree. How to add one:
[adding-a-provider.md](adding-a-provider.md).

"""


def _direction(provider: Provider) -> str:
    profile = provider.profile
    if profile.kind == "home":
        return "hub"
    if profile.kind == "accounting":
        return "invoices out, status and payments in"
    if profile.kind == "hr":
        return "time off in (utilization capacity)"
    if provider.entries is not None and profile.writable:
        return "both ways"
    reason = f" ({profile.not_writable_reason})" if profile.not_writable_reason else ""
    return f"to Core only{reason}"


def _row(provider: Provider) -> str:
    p = provider.profile
    offered = ", ".join(c for c in _CAPABILITIES if provider.offers(c)) or "-"
    limit = f"{p.rate_limit.requests} per {p.rate_limit.window_s:g} s"
    changes = "webhooks + polling" if p.webhooks else "polling"
    if p.webhooks and p.webhooks_miss:
        changes = f"webhooks + polling (polled for {p.webhooks_miss})"
    cells = [
        f"{p.title} (`{p.name}`)",
        p.kind,
        offered,
        _direction(provider),
        changes,
        p.auth,
        p.granularity.replace("_", "/"),
        p.units,
        p.billable,
        limit,
        p.cursor or "-",
        p.pagination or "-",
        ", ".join(sorted(p.writable_fields)) if provider.entries is not None else "-",
        p.report or "-",
        p.locks or "-",
        p.deletes,
        p.differs_from_seeds or "-",
    ]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render(providers: Registry | None = None) -> str:
    columns = [
        "Provider",
        "Kind",
        "Capabilities",
        "Direction",
        "Changes seen by",
        "Auth",
        "Record per",
        "Units",
        "Billable kept per",
        "Rate limit (per credential)",
        "Change cursor",
        "Pagination",
        "Writable fields",
        "Report endpoint",
        "Locks",
        "Deletes",
        "What the seeds name differently",
    ]
    ordered = sorted(providers or registry(), key=lambda p: (p.profile.kind, p.name))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [_row(p) for p in ordered]
    return _HEADER + "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
