"""Checking traffic with the BambooHR sandbox against BambooHR's OpenAPI description.

``bamboohr-openapi.yaml`` (OpenAPI 3.1) names the server ``https://{companyDomain}.bamboohr.com``
with paths under ``/api/v1``; the sandbox's URL replaces it, so the paths match. The document is
not validated itself (only the traffic is): it is large and read as it is published.
"""

import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config

from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport

SPEC_NAME = "bamboohr-openapi.yaml"


def _without_servers(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_servers(v) for v in node]
    if not isinstance(node, dict):
        return node
    return {str(k): _without_servers(v) for k, v in node.items() if k != "servers"}


@functools.cache
def bamboohr_openapi(specs: Path, server: str) -> OpenAPI:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser, where built
    raw = yaml.load((specs / SPEC_NAME).read_text(), Loader=loader)  # noqa: S506 - a safe loader
    document: dict[str, Any] = _without_servers(raw)
    document["servers"] = [{"url": server.rstrip("/")}]
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(document, config=config)


__all__ = ["SpecCheckingTransport", "bamboohr_openapi"]
