"""docker-compose and Helm use the configuration names the services actually read, restart
what exits and probe each service's liveness (/healthz) and readiness (/readyz)."""

import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from timebridge_conflict_resolver.config import Settings as ConflictSettings
from timebridge_console.config import Settings as ConsoleSettings
from timebridge_contracts.config import Settings as ContractsSettings
from timebridge_credentials.config import Settings as CredentialsSettings
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
    "contracts": ContractsSettings,
    "credentials": CredentialsSettings,
    "console": ConsoleSettings,
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


# The console is a client of the services' HTTP APIs: no database, no Kafka.
BACKENDS = {name: s for name, s in SETTINGS.items() if "TB_DATABASE__URL" in env_names(s)}


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
    if service in BACKENDS:
        assert "TB_DATABASE__URL" in env
        assert env["TB_DATABASE__URL"].endswith(f"/tb_{service.replace('-', '_')}")
    assert compose["services"][service]["command"] == [f"timebridge-{service}"]


def test_compose_creates_every_services_database() -> None:
    sql = (ROOT / "deploy/docker/init-databases.sql").read_text()
    for service in BACKENDS:
        assert f"CREATE DATABASE tb_{service.replace('-', '_')};" in sql, service


def test_compose_console_calls_every_service_it_knows_by_its_compose_name() -> None:
    console = _compose()["services"]["console"]
    env = console["environment"]
    urls = {n for n in env_names(ConsoleSettings) if n.startswith("TB_SERVICES__")}
    assert urls
    for name in urls:
        service = name.removeprefix("TB_SERVICES__").removesuffix("_URL").lower().replace("_", "-")
        assert env[name] == f"http://{service}:8000", name
        assert service in console["depends_on"], name
    assert "TB_SESSION_KEY" in env  # one key across restarts: sessions survive them
    assert not {"topics", "postgres", "kafka"} & set(console["depends_on"])


def _helm_env_names(text: str) -> set[str]:
    return {
        line.split("name:", 1)[1].strip() for line in text.splitlines() if "- name: TB_" in line
    }


def _helm_define(helpers: str, name: str) -> str:
    match = re.search(r'\{\{- define "' + name + r'" -\}\}(.*?)\{\{- end -\}\}', helpers, re.S)
    assert match, name
    return match.group(1)


def test_helm_uses_known_variables() -> None:
    helpers = (ROOT / "deploy/helm/timebridge/templates/_helpers.tpl").read_text()
    services = (ROOT / "deploy/helm/timebridge/templates/services.yaml").read_text()
    values = yaml.safe_load((ROOT / "deploy/helm/timebridge/values.yaml").read_text())
    assert set(values["services"]) == set(SETTINGS)
    common = set.intersection(*(env_names(s) for s in SETTINGS.values()))
    backend = set.intersection(*(env_names(s) for s in BACKENDS.values()))
    every = _helm_env_names(_helm_define(helpers, "timebridge.commonEnv"))
    kafka = _helm_env_names(_helm_define(helpers, "timebridge.kafkaEnv"))
    assert every
    assert every <= common, "set for every program, so every program must read it"
    assert kafka
    assert kafka <= backend
    # Kafka and the database only where the settings read them: `client: true` is the console.
    guarded = services.split("{{- if not $svc.client }}", 1)[1].split("{{- end }}", 1)[0]
    assert 'include "timebridge.kafkaEnv"' in guarded
    assert "- name: TB_DATABASE__URL" in guarded
    assert services.count('include "timebridge.kafkaEnv"') == 1
    assert services.count("- name: TB_DATABASE__URL") == 1
    for name, svc in values["services"].items():
        assert bool(svc.get("client")) == (name not in BACKENDS), name
    # Secrets, each behind its flag, only for services that read it; every required one set.
    flags = {
        "credentials": "TB_ENCRYPTION_KEY",
        "adminApi": "TB_ADMIN_TOKEN",
        "sessionKey": "TB_SESSION_KEY",
        "serviceToken": "TB_SERVICE_TOKEN",
    }
    assert _helm_env_names(services) == {"TB_DATABASE__URL", *flags.values()}
    for flag, variable in flags.items():
        assert f"{{{{- if $svc.{flag} }}}}\n            - name: {variable}" in services, flag
    for name, svc in values["services"].items():
        known = env_names(SETTINGS[name])
        secrets = {variable for flag, variable in flags.items() if svc.get(flag)}
        assert secrets <= known, name
        assert set(svc.get("env", {})) <= known, f"{name}: unknown variables"
        set_by_chart = every | secrets | set(svc.get("env", {}))
        if name in BACKENDS:
            set_by_chart |= kafka | {"TB_DATABASE__URL"}
        required = {
            f"TB_{n.upper()}" for n, f in SETTINGS[name].model_fields.items() if f.is_required()
        }
        assert required <= set_by_chart, name
    assert "{{- range $key, $value := $svc.env }}" in services


def test_helm_console_calls_every_service_by_its_kubernetes_service() -> None:
    values = yaml.safe_load((ROOT / "deploy/helm/timebridge/values.yaml").read_text())
    console = values["services"]["console"]
    assert console["sessionKey"] is True  # replicas share one key
    urls = {n for n in env_names(ConsoleSettings) if n.startswith("TB_SERVICES__")}
    for name in urls:
        service = name.removeprefix("TB_SERVICES__").removesuffix("_URL").lower().replace("_", "-")
        assert service in values["services"], name
        assert console["env"][name] == f"http://timebridge-{service}", name


def test_dev_launcher_starts_every_service() -> None:
    launcher = (ROOT / "deploy/local/dev.py").read_text()
    for service in BACKENDS:
        assert f'"{service}", "timebridge_{service.replace("-", "_")}.entrypoints.main"' in launcher
    assert '"-m", "timebridge_console.entrypoints.main"' in launcher  # its own environment


APP_SERVICES = list(SETTINGS)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_restarts_every_long_running_container() -> None:
    services = _compose()["services"]
    for name in [*APP_SERVICES, "kafka", "postgres"]:
        assert services[name].get("restart") == "unless-stopped", name
    for name in APP_SERVICES:
        assert services[name]["stop_grace_period"] == "45s", name  # Helm's grace period too
    assert services["topics"].get("restart") == "on-failure"  # a job: done once it succeeded


def test_compose_health_is_each_services_liveness_on_its_port() -> None:
    services = _compose()["services"]
    for name in APP_SERVICES:
        check = services[name]["healthcheck"]
        port = services[name]["environment"]["TB_HTTP__PORT"]
        assert check["test"][:3] == ["CMD", "python", "-c"], name
        assert f"http://127.0.0.1:{port}/healthz" in check["test"][3], name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_compose_health_command_passes_only_on_a_2xx(status: int, healthy: bool) -> None:
    """The command itself, run as Docker would, against a server answering ``status``."""
    handler = type("Handler", (_Health,), {"status": status})
    with http.server.HTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            command = _compose()["services"]["mapping"]["healthcheck"]["test"][1:]
            code = command[2].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            ran = subprocess.run(  # noqa: S603 - our own interpreter and compose's command
                [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
            )
        finally:
            server.shutdown()
    assert (ran.returncode == 0) is healthy, ran.stderr


def _helm_deployment() -> dict[str, Any]:
    """The chart's Deployment template as YAML (template directives dropped or blanked)."""
    text = (ROOT / "deploy/helm/timebridge/templates/services.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.strip().startswith("{{")]
    body = re.sub(r"\{\{.*?\}\}", "X", "\n".join(lines))
    [deployment] = [d for d in yaml.safe_load_all(body) if d and d["kind"] == "Deployment"]
    found: dict[str, Any] = deployment
    return found


def test_helm_restarts_on_liveness_and_routes_on_readiness() -> None:
    pod = _helm_deployment()["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Always"
    [container] = pod["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": {"path": "/healthz", "port": "http"},
        "livenessProbe": {"path": "/healthz", "port": "http"},
        "readinessProbe": {"path": "/readyz", "port": "http"},
    }
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60  # imports, migrations


def test_the_image_installs_every_service() -> None:
    """Compose and Helm run each service's console script from the one image."""
    dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text()
    for service in SETTINGS:
        assert re.search(rf"\./services/{service}(\s|\\|$)", dockerfile), service
