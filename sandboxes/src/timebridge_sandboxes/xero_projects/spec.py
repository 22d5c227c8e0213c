"""Xero's OpenAPI description of the Projects API (``xero-projects.yaml``), for checking every
exchange a test has with the sandbox (through the generic
:class:`~timebridge_sandboxes.harvest_openapi.SpecCheckingTransport`).

The file documents ``200``/``201``/``204`` and ``400`` only: answers with another status (the
``401``/``403`` problem documents, ``404``, ``429`` and ``5xx``) have nothing to be checked
against, and :data:`UNDOCUMENTED` names them so a test can set them aside, saying so. Xero's file
has slips a validator of the file itself trips over (``maximum`` on a string), so it is loaded
without validating the file; and it writes ``type`` beside ``$ref`` (a task's ``rate``: ``$ref:
Amount`` with ``type: number``), which OpenAPI 3.0 says to ignore, so it is dropped here (a
validator that merged them would demand an amount be both an object and a number).
"""

import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config

SPEC_NAME = "xero-projects.yaml"
UNDOCUMENTED = (401, 403, 404, 429, 500, 502, 503, 504)


@functools.cache
def xero_projects_openapi(specs: Path, server: str) -> OpenAPI:
    """The spec, its server replaced by the sandbox's ``.../projects.xro/2.0``."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load((specs / SPEC_NAME).read_text(), Loader=loader)  # noqa: S506 - a safe loader
    document: dict[str, Any] = _refs_alone(raw)
    document["servers"] = [{"url": server.rstrip("/") + "/projects.xro/2.0"}]
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(document, config=config)


def _refs_alone(node: Any) -> Any:
    """The document as OpenAPI 3.0 reads it: a ``$ref`` object's siblings are ignored."""
    if isinstance(node, list):
        return [_refs_alone(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    return {k: _refs_alone(v) for k, v in node.items()}
