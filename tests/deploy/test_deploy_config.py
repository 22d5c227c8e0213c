"""docker-compose and Helm use the configuration names the services actually read."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from timebridge_conflict_resolver.config import Settings as ConflictSettings
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_invoice_export.config import Settings as InvoiceSettings
from timebridge_mapping.config import Settings as MappingSettings
from timebridge_reporting.config import Settings as ReportingSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "mapping": MappingSettings,
    "conflict-resolver": ConflictSettings,
    "invoice-export": InvoiceSettings,
    "reporting": ReportingSettings,
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every TB_* variable ``settings`` reads (nested groups flattened with ``__``)."""
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        annotation: Any = field.annotation
        nested = getattr(annotation, "model_fields", None)
        if nested:
            names |= {f"TB_{name.upper()}__{sub.upper()}" for sub in nested}
        else:
            names.add(f"TB_{name.upper()}")
    return names


@pytest.mark.parametrize("service", SETTINGS)
def test_compose_sets_only_known_variables_and_every_required_one(service: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"][service]["environment"]
    known = env_names(SETTINGS[service])
    assert set(env) - known == set(), f"{service}: unknown variables"
    required = {
        f"TB_{n.upper()}" for n, f in SETTINGS[service].model_fields.items() if f.is_required()
    }
    assert required <= set(env)
    assert "TB_DATABASE__URL" in env
    assert compose["services"][service]["command"] == [f"timebridge-{service}"]


def test_helm_uses_known_variables() -> None:
    helpers = (ROOT / "deploy/helm/timebridge/templates/_helpers.tpl").read_text()
    services = (ROOT / "deploy/helm/timebridge/templates/services.yaml").read_text()
    names = [
        line.split("name:", 1)[1].strip()
        for line in (helpers + services).splitlines()
        if "- name: TB_" in line
    ]
    common = set.intersection(*(env_names(s) for s in SETTINGS.values()))
    assert names
    assert set(names) - env_names(IngestSettings) == set()
    credentials = {"TB_ENCRYPTION_KEY", "TB_ADMIN_TOKEN"}
    assert set(names) - credentials <= common, "only credentials may be service-specific"
    assert "{{- if $svc.credentials }}" in services
    values = yaml.safe_load((ROOT / "deploy/helm/timebridge/values.yaml").read_text())
    assert set(values["services"]) == set(SETTINGS)


def test_dev_launcher_starts_every_service() -> None:
    launcher = (ROOT / "deploy/local/dev.py").read_text()
    for service in SETTINGS:
        assert f'"{service}", "timebridge_{service.replace("-", "_")}.entrypoints.main"' in launcher
