"""The registry and every installed provider's profile: consistent data, one table, one home."""

from pathlib import Path

import pytest
from timebridge_providers import matrix
from timebridge_providers.installed import registry
from timebridge_providers.kit.profile import ALL_FIELDS, Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider, Registry, UnknownProviderError
from timebridge_providers.kit.session import Session

ROOT = Path(__file__).resolve().parents[3]


async def _nobody(session: Session) -> Account:
    return Account("x")


def _provider(name: str, kind: str = "tracker") -> Provider:
    profile = Profile(name=name, title=name.title(), kind=kind, rate_limit=RateLimit(1, 1.0))  # type: ignore[arg-type]
    return Provider(profile=profile, check=_nobody)


def test_one_home_system_and_the_trackers_by_kind() -> None:
    providers = registry()
    assert providers.home().name == "core"
    assert "everhour" in providers.names("tracker")
    assert "core" not in providers.names("tracker")


def test_an_unknown_name_is_refused_and_a_name_registers_once() -> None:
    with pytest.raises(UnknownProviderError, match="no provider 'nope'"):
        registry().get("nope")
    with pytest.raises(ValueError, match="registered twice"):
        Registry([_provider("a"), _provider("a")])
    with pytest.raises(RuntimeError, match="exactly one home"):
        Registry([_provider("a")]).home()


@pytest.mark.parametrize("provider", list(registry()), ids=lambda p: p.name)
def test_every_profile_is_consistent(provider: Provider) -> None:
    p = provider.profile
    assert p.name == p.name.lower()
    assert p.name.isidentifier()
    assert p.kept_fields <= ALL_FIELDS
    assert p.observed_fields <= ALL_FIELDS
    assert p.kept_fields <= p.observed_fields, "a record keeps only what is observed of it"
    assert p.writable_fields <= p.kept_fields | p.observed_fields
    assert sum(p.rate_limit.shares.values()) <= p.rate_limit.requests, "shares exceed the limit"
    assert all(share >= 2 for share in p.rate_limit.shares.values())
    if p.requires_task:
        assert "task_external_id" in p.kept_fields
    if not p.writable:
        assert p.not_writable_reason, "a read-only provider says why"


def test_the_provider_matrix_in_docs_is_generated_from_the_profiles() -> None:
    written = (ROOT / "docs" / "providers.md").read_text()
    assert written == matrix.render(), (
        "run: python -m timebridge_providers.matrix > docs/providers.md"
    )
