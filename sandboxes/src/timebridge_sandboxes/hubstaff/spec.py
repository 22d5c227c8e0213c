"""Hubstaff's Swagger 2.0 description (``hubstaff-v2-swagger.json``) as OpenAPI 3.0, for checking
a test's traffic with the sandbox (``openapi-core`` reads only OpenAPI 3).

The conversion is the mechanical one ``swagger2openapi`` makes, for what this description uses:
``definitions`` become ``components/schemas`` (references rewritten), a ``body`` parameter becomes
the ``requestBody`` (``application/json``), other parameters wrap their type in a ``schema``
(arrays as ``form``, exploded, which is how Hubstaff reads ``user_ids[]=``-less repeats), and each
response's ``schema`` becomes its ``application/json`` content.
"""

import functools
import json
from pathlib import Path
from typing import Any

import httpx
from openapi_core import OpenAPI
from openapi_core.configurations import Config

from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport

SPEC_NAME = "hubstaff-v2-swagger.json"
_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "minimum", "maximum", "pattern")


def _refs(node: Any) -> Any:
    if isinstance(node, list):
        return [_refs(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _refs(v) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        out["$ref"] = "#/components/schemas/" + ref.removeprefix("#/definitions/")
    return out


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    schema = {k: parameter[k] for k in _SCHEMA_KEYS if k in parameter}
    if schema.get("default", 0) is None:
        del schema["default"]
    out = {k: v for k, v in parameter.items() if k not in (*_SCHEMA_KEYS, "collectionFormat")}
    out["schema"] = schema
    if schema.get("type") == "array":
        out["style"], out["explode"] = "form", True
    return out


def _operation(operation: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: v
        for k, v in operation.items()
        if k not in {"parameters", "responses", "consumes", "produces", "schemes"}
    }
    parameters = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "body":
            out["requestBody"] = {
                "required": bool(parameter.get("required")),
                "content": {"application/json": {"schema": parameter.get("schema", {})}},
            }
        elif parameter.get("in") == "formData":
            continue
        else:
            parameters.append(_parameter(parameter))
    out["parameters"] = parameters
    responses: dict[str, Any] = {}
    for status, response in operation.get("responses", {}).items():
        converted: dict[str, Any] = {"description": response.get("description") or str(status)}
        if response.get("schema"):
            converted["content"] = {"application/json": {"schema": response["schema"]}}
        responses[str(status)] = converted
    out["responses"] = responses
    return out


def openapi_document(swagger: dict[str, Any], server: str) -> dict[str, Any]:
    paths = {
        path: {
            method: _operation(op)
            for method, op in item.items()
            if method in {"get", "post", "put", "patch", "delete"}
        }
        for path, item in swagger["paths"].items()
    }
    document = {
        "openapi": "3.0.3",
        "info": swagger.get("info", {"title": "Hubstaff", "version": "2"}),
        "servers": [{"url": server.rstrip("/")}],
        "paths": paths,
        "components": {"schemas": swagger.get("definitions", {})},
    }
    converted: dict[str, Any] = _refs(document)
    return converted


@functools.cache
def hubstaff_openapi(specs: Path, server: str) -> OpenAPI:
    """The converted description; not validated as a whole (some schemas the endpoints here
    never use are malformed, e.g. ``SmartNotification.from`` of ``type: s``)."""
    swagger = json.loads((specs / SPEC_NAME).read_text())
    config = Config(spec_validator_cls=None)  # type: ignore[arg-type]
    return OpenAPI.from_dict(openapi_document(swagger, server), config=config)


class HubstaffSpecCheck(SpecCheckingTransport):
    """Validates every exchange against the description. Its operations document 400, 401, 403,
    404 and 429, not the 5xx a server may answer (the sandbox's fault switches): such an answer is
    checked against Hubstaff's error shape (``{"code", "error"}``) instead."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        before = len(self.problems)
        response = await super().handle_async_request(request)
        if response.status_code < 500 or request.url.path.startswith("/_sandbox"):
            return response
        self.problems[before:] = [p for p in self.problems[before:] if "ResponseNotFound" not in p]
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if not (isinstance(body, dict) and {"code", "error"} <= set(body)):
            where = f"{request.method} {request.url.path}"
            self.problems.append(f"answer {response.status_code} to {where}: not {{code, error}}")
        return response
