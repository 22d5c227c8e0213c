"""JSON Schemas of the published events, and the compatibility rule between revisions.

``schemas/<topic>/NNNN.json`` are the published revisions of one major version, oldest first.
The newest must equal what the model generates (so the files never drift from the code), and each
revision must be compatible with the one before it: a consumer written against any revision can
read records written against any later one. Breaking changes need a new major version (a new event
class, a new topic and an upcaster).
"""

import json
from pathlib import Path
from typing import Any

from timebridge_common.events.base import Event

Schema = dict[str, Any]
_IGNORED_KEYS = {"title", "description", "examples", "default"}


def generate(model: type[Event]) -> Schema:
    """The wire-format schema of ``model`` (pydantic's serialization mode: Decimals as strings)."""
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "x-timebridge-type": model.type_name(),
        "x-kafka-topic": model.topic(),
        **schema,
    }


def dumps(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def revisions(schema_dir: Path, model: type[Event]) -> list[Path]:
    folder = schema_dir / model.topic()
    return sorted(folder.glob("[0-9][0-9][0-9][0-9].json")) if folder.is_dir() else []


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        node = root["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _IGNORED_KEYS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _deep_resolve(node: Any, root: Schema) -> Any:
    if isinstance(node, dict):
        node = _resolve(node, root)
        return {k: _deep_resolve(v, root) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_deep_resolve(v, root) for v in node]
    return node


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Why records of ``new`` could break a consumer of ``old`` (empty when compatible).

    Allowed: adding an optional property, changing descriptions. Everything else (removing or
    retyping a property, a new required property, a changed enum or format) is a break.
    """
    problems: list[str] = []
    _compare(_strip(_deep_resolve(old, old)), _strip(_deep_resolve(new, new)), "$", problems)
    return problems


def _compare(old: Any, new: Any, path: str, problems: list[str]) -> None:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        if old != new:
            problems.append(f"{path}: changed from {old!r} to {new!r}")
        return
    if old.get("type") == "object" and new.get("type") == "object":
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in old_props:
            if name not in new_props:
                problems.append(f"{path}.{name}: removed")
            else:
                _compare(old_props[name], new_props[name], f"{path}.{name}", problems)
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(new_req - old_req):
            problems.append(f"{path}.{name}: became required")
        for name in sorted(old_req - new_req):
            problems.append(f"{path}.{name}: no longer required")
        rest_old = {k: v for k, v in old.items() if k not in {"properties", "required"}}
        rest_new = {k: v for k, v in new.items() if k not in {"properties", "required"}}
        _compare_keys(rest_old, rest_new, path, problems)
        return
    _compare_keys(old, new, path, problems)


def _compare_keys(old: Schema, new: Schema, path: str, problems: list[str]) -> None:
    for key in sorted(set(old) | set(new)):
        if key not in old:
            problems.append(f"{path}: added constraint {key!r}")
        elif key not in new:
            problems.append(f"{path}: dropped {key!r}")
        elif isinstance(old[key], list) and isinstance(new[key], list):
            if len(old[key]) != len(new[key]):
                problems.append(f"{path}.{key}: changed from {old[key]!r} to {new[key]!r}")
            else:
                for i, (a, b) in enumerate(zip(old[key], new[key], strict=True)):
                    _compare(a, b, f"{path}.{key}[{i}]", problems)
        else:
            _compare(old[key], new[key], f"{path}.{key}", problems)


def write_new_revision(schema_dir: Path, model: type[Event]) -> Path | None:
    """Publish the model's schema as a new revision if it changed; refuse a breaking change."""
    current = generate(model)
    existing = revisions(schema_dir, model)
    if existing:
        latest = json.loads(existing[-1].read_text())
        if latest == current:
            return None
        problems = incompatibilities(latest, current)
        if problems:
            raise ValueError(
                f"{model.type_name()} changed incompatibly (publish a new major version instead):"
                "\n  " + "\n  ".join(problems)
            )
    path = schema_dir / model.topic() / f"{len(existing) + 1:04d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(current))
    return path
