"""Who may call which route of the credential owner, as its OpenAPI document says."""

from pydantic import SecretStr

from timebridge_common.crypto import SecretBox
from timebridge_credentials.bootstrap import bootstrap
from timebridge_credentials.config import Settings


def test_access_and_writes_are_for_services_health_and_delete_also_for_admins() -> None:
    settings = Settings(
        encryption_key=SecretStr(SecretBox.generate_key()), service_token=SecretStr("t")
    )
    service = bootstrap(settings)  # the pool connects lazily: nothing is reached here
    document = service.app.openapi()
    security = {
        (method.upper(), path.removeprefix("/v1/workspaces/{workspace_id}/connections")): op.get(
            "security"
        )
        for path, ops in document["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    }
    service_only: list[dict[str, list[str]]] = [{"ServiceToken": []}]
    either: list[dict[str, list[str]]] = [{"ServiceToken": []}, {"CoreAdminToken": []}]
    assert security == {
        ("GET", "/health"): either,
        ("PUT", "/{connection_id}"): service_only,
        ("POST", "/{connection_id}/authorization-code"): service_only,
        ("POST", "/{connection_id}/rotate"): service_only,
        ("POST", "/{connection_id}/refused"): service_only,
        ("POST", "/{connection_id}/move"): service_only,
        ("DELETE", "/{connection_id}"): either,
        ("POST", "/{connection_id}/access"): service_only,
        ("POST", "/v1/oauth/{provider}/authorization"): service_only,
    }
    access = document["paths"]["/v1/workspaces/{workspace_id}/connections/{connection_id}/access"]
    assert {"401", "404", "409", "503"} <= set(access["post"]["responses"])
