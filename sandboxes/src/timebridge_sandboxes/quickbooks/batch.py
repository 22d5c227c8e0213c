"""``POST /batch``: up to 30 operations in one request (``BatchItemRequest``), each answered in
its own ``BatchItemResponse`` with the same ``bId``: an entity, a ``QueryResponse``, or a
``Fault`` (one refused item does not stop the others), as Intuit's batch reference describes."""

from typing import Any

from timebridge_sandboxes.quickbooks.base import KINDS, Company, Fault, Json, invalid
from timebridge_sandboxes.quickbooks.query import run_query
from timebridge_sandboxes.quickbooks.sandbox import Changes, Sandbox

BATCH_LIMIT = 30
_OPERATIONS = {"create": None, "update": "update", "delete": "delete", "void": "void"}


def run_batch(sandbox: Sandbox, company: Company, body: Any) -> tuple[Json, Changes]:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid("BatchItemRequest: one or more items expected", "BatchItemRequest")
    if len(items) > BATCH_LIMIT:
        raise invalid(f"BatchItemRequest: at most {BATCH_LIMIT} items", "BatchItemRequest")
    answers: list[Json] = []
    changes: Changes = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("bId"), str):
            raise invalid("BatchItemRequest: every item needs a bId", "bId")
        try:
            answer, changed = _one(sandbox, company, item)
        except Fault as refused:
            error = {
                "Message": refused.message,
                "Detail": refused.detail,
                "code": refused.code,
                "element": refused.element,
            }
            answer, changed = {"Fault": {"Error": [error], "type": "ValidationFault"}}, []
        answers.append({"bId": item["bId"], **answer})
        changes += changed
    return {"BatchItemResponse": answers}, changes


def _one(sandbox: Sandbox, company: Company, item: Json) -> tuple[Json, Changes]:
    if "Query" in item:
        if not isinstance(item["Query"], str):
            raise invalid("Query: a select statement expected", "Query")
        return {"QueryResponse": run_query(sandbox, company, item["Query"])["QueryResponse"]}, []
    entities = [k for k in item if k in KINDS.values()]
    others = set(item) - {"bId", "operation", "optionsData", *entities}
    if len(entities) != 1 or others:
        raise invalid("BatchItemRequest: one entity, or a Query, per item")
    kind = entities[0]
    operation = item.get("operation", "create")
    if operation not in _OPERATIONS:
        raise invalid(f"operation {operation!r} is not supported in a batch", "operation")
    record, changed = sandbox.write(company, kind, item[kind], _OPERATIONS[operation], None)
    return {kind: sandbox.render(record)}, changed
