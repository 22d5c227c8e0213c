"""Checking traffic with the Clockify sandbox against Clockify's OpenAPI description.

``clockify-v1-openapi.yaml`` names a server per path (``https://api.clockify.me/api`` for the API,
``https://reports.api.clockify.me`` for reports); both are replaced by the sandbox's (the API under
``/api``, reports under ``/report``, as on Clockify's regional hosts). Read as Clockify means it:
the generator wrote Java enums (``AccountStatus``, ``TaskStatus``, ...) as objects, while the API
sends their names as strings (``"ACTIVE"``), so those schemas are read as strings; an answer
described as ``*/*`` (the summary report) is the JSON it is. The description documents no error
answers, so a test judges those by Clockify's documented error body, not by the description.
"""

import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config

from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport

SPEC_NAME = "clockify-v1-openapi.yaml"
_ENUMS = ("AccountStatus", "TaskStatus", "WebhookEventType", "WebhookEventTriggerSourceType")


def _servers(node: Any, server: str) -> Any:
    if isinstance(node, list):
        return [_servers(v, server) for v in node]
    if not isinstance(node, dict):
        return node
    out = {str(k): _servers(v, server) for k, v in node.items()}
    content = out.get("content")
    if isinstance(content, dict) and list(content) == ["*/*"]:
        out["content"] = {"application/json": content["*/*"]}
    if isinstance(out.get("servers"), list):
        urls = [s.get("url", "") for s in out["servers"]]
        out["servers"] = [
            {"url": server + ("/report" if "reports" in u or "/report" in u else "/api")}
            for u in urls
        ]
    return out


@functools.cache
def clockify_openapi(specs: Path, server: str) -> OpenAPI:
    document: dict[str, Any] = yaml.safe_load((specs / SPEC_NAME).read_text())
    document = _servers(document, server.rstrip("/"))
    document["servers"] = [{"url": server.rstrip("/") + "/api"}]
    schemas = document["components"]["schemas"]
    for name in _ENUMS:
        if name in schemas:
            schemas[name] = {"type": "string"}
    # The file has defects a spec validator trips over (a string default on an array): the
    # document is not validated, the traffic is.
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(document, config=config)


__all__ = ["SpecCheckingTransport", "clockify_openapi"]
