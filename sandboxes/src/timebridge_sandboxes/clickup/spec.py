"""ClickUp's OpenAPI description (``clickup-v2-openapi.json``, OpenAPI 3.1), read for checking a
test's traffic with the sandbox (see :class:`~timebridge_sandboxes.harvest_openapi.
SpecCheckingTransport`, which validates every request and answer with ``openapi-core``)."""

import functools
import json
from pathlib import Path
from typing import Any

import httpx
from openapi_core import OpenAPI

from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport

SPEC_NAME = "clickup-v2-openapi.json"


@functools.cache
def clickup_openapi(specs: Path, server: str) -> OpenAPI:
    """The spec with its server URL replaced by the sandbox's (``<server>/api``)."""
    document: dict[str, Any] = _repaired(json.loads((specs / SPEC_NAME).read_text()))
    document["servers"] = [{"url": server.rstrip("/") + "/api"}]
    return OpenAPI.from_dict(document)


def _repaired(node: Any) -> Any:
    """The description as ClickUp's own text and examples mean it, where its generator wrote a
    schema nothing can satisfy:

    - ``oneOf`` with an empty alternative ``{}`` (a List's ``status``/``priority``): every value
      matches ``{}`` and one other, so every value would fail; the ``{}`` is dropped.
    - ``GET /space/{space_id}/folder``'s ``folders`` typed as one object, where the example and
      the docs give an array of folders.
    - ``assignee`` of ``GET .../time_entries`` typed as a number, where its description says
      "for multiple assignees, separate user ids using commas": a comma list of numbers.
    """
    if isinstance(node, list):
        return [_repaired(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _repaired(v) for k, v in node.items()}
    if isinstance(out.get("oneOf"), list) and {} in out["oneOf"]:
        out["oneOf"] = [o for o in out["oneOf"] if o != {}]
    if out.get("title") == "GetFoldersresponse":
        folder = out["properties"]["folders"]
        out["properties"]["folders"] = {"type": "array", "items": folder}
    if out.get("name") == "assignee" and out.get("in") == "query":
        out["schema"] = {"type": "string", "pattern": r"^\d+(,\d+)*$"}
    return out


class ClickUpSpecCheck(SpecCheckingTransport):
    """Validates every exchange against the spec. The spec documents only the ``200`` of each
    operation; an error answer is checked against ClickUp's documented error shape (``{"err":
    str, "ECODE": str}``) instead of being reported as undocumented."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        before = len(self.problems)
        response = await super().handle_async_request(request)
        if response.status_code < 400 or request.url.path.startswith("/_sandbox"):
            return response
        where = f"{request.method} {request.url.path}"
        fresh = self.problems[before:]
        kept = [p for p in fresh if "ResponseNotFound" not in p]
        self.problems[before:] = kept
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if not (
            isinstance(body, dict)
            and isinstance(body.get("err"), str)
            and isinstance(body.get("ECODE"), str)
        ):
            self.problems.append(f"answer {response.status_code} to {where}: not {{err, ECODE}}")
        return response
