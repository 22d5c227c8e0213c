"""Every route of the contracts API needs a Core admin's token, and says so in its document."""

from timebridge_contracts.bootstrap import bootstrap
from timebridge_contracts.config import Settings


def test_every_v1_route_is_for_core_admins_only() -> None:
    service = bootstrap(Settings())  # the pool connects lazily: nothing is reached here
    document = service.app.openapi()
    operations = [
        (method, path, op)
        for path, ops in document["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]
    assert len(operations) == 15
    for method, path, op in operations:
        assert op.get("security") == [{"CoreAdminToken": []}], (method, path)
        assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
