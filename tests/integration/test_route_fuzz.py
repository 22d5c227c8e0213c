"""API fuzzing (issue 13): schemathesis over every service's OpenAPI document, bounded.

Each service's app, built by its own ``bootstrap`` on the real broker and PostgreSQL (see
``api_platform``), is served by uvicorn inside this process; schemathesis generates requests
from the app's document in a worker thread and sends them over HTTP. Per operation:

- valid credentials (the workspace's Core admin, or the platform token), the workspace fixed so
  requests get past the admin check: schema-conforming cases, then schema-violating ones;
- invalid credentials (another workspace's admin, then none): every protected operation must
  refuse with 401/403 (or 400 for bad bytes, which are refused before anything else).

Every answer must be no server error and conform to the document (status code declared, content
type, body schema, headers). Generation is derandomized (the same cases every run) and bounded:
:data:`EXAMPLES` per operation and mode, and :data:`BUDGET_S` for the whole run.
"""

import asyncio
import contextlib
import copy
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from timebridge_common.http_errors import PLATFORM_ADMIN_SCHEME

from .api_platform import Platform, shared_platform, with_new_tenants

__all__ = ["shared_platform"]  # the fixture (leased: one platform with the route walk)

# schemathesis' strategies draw from `random` (a deprecation hypothesis warns about, per case).
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

MODES = ("valid-positive", "valid-negative", "invalid-credentials")
EXAMPLES = {"valid-positive": 4, "valid-negative": 3, "invalid-credentials": 2}
"""Per operation and mode (was 6/4/2, which took a quarter longer of ``make test``'s budget);
the derandomized draws are the same every run; bad credentials alternate: one of each kind."""
BUDGET_S = 150.0
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    server_errors: int = 0
    skipped: list[str] = field(default_factory=list)
    nothing_to_negate: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a real socket of this process (its runtime is already started)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def platform(shared_platform: Platform) -> Platform:
    """The shared platform, on workspaces of this module's own."""
    return await with_new_tenants(shared_platform)


@dataclass(frozen=True)
class Target:
    """One operation of one service, as fuzzed in one mode."""

    key: str
    mode: str
    strategy: Any
    base_url: str
    credentials: tuple[dict[str, str], ...]
    """Headers sent in turn (the generated Authorization header is replaced)."""
    must_refuse: bool


def _targets(platform: Platform, name: str, app: FastAPI, base_url: str) -> list[Target]:
    """Every operation of ``app`` in every mode; the workspace is fixed to one that exists."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(app.openapi()))
    targets = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a bad document
        security = operation.definition.raw.get("security", [])
        schemes = {scheme for requirement in security for scheme in requirement}
        token = platform.platform_token if PLATFORM_ADMIN_SCHEME in schemes else platform.a.admin
        valid = ({"Authorization": f"Bearer {token}"},) if schemes else ({},)
        invalid: tuple[dict[str, str], ...] = ({"Authorization": f"Bearer {platform.b.admin}"}, {})
        fixed = {}
        if any(p.name == "workspace_id" for p in operation.path_parameters):
            fixed["workspace_id"] = platform.a.workspace
        for mode in MODES:
            if mode == "invalid-credentials" and not schemes:
                continue
            generation = (
                GenerationMode.NEGATIVE if mode == "valid-negative" else GenerationMode.POSITIVE
            )
            strategy = operation.as_strategy(
                generation_mode=generation, path_parameters=fixed or None
            )
            key = f"{name} {operation.label} [{mode}]"
            credentials = invalid if mode == "invalid-credentials" else valid
            targets.append(
                Target(key, mode, strategy, base_url, credentials, mode == "invalid-credentials")
            )
    return targets


@dataclass
class Fuzz:
    """One run: the time budget, one HTTP session, and what was seen."""

    deadline: float
    tally: Tally = field(default_factory=Tally)
    session: requests.Session = field(default_factory=requests.Session)

    def all(self, targets: list[Target]) -> None:
        """Runs in a worker thread: the apps answer from the event loop over their sockets.

        Mode by mode (all schema-conforming cases first), so a slow machine that runs out of
        budget skips the least important cases.
        """
        for mode in MODES:
            for target in (t for t in targets if t.mode == mode):
                if time.monotonic() > self.deadline:
                    self.tally.skipped.append(target.key)
                    continue
                try:
                    self._run(target)
                except Unsatisfiable:  # nothing to negate (no parameters, no body)
                    self.tally.nothing_to_negate.append(target.key)

    def _run(self, target: Target) -> None:
        # Readiness answers 503 by design when a dependency or a consumer is not well; on the
        # shared test broker other tests' records may well stall a consumer meanwhile.
        checks = CONFORMANCE[1:] if target.key.split()[2] == "/readyz" else CONFORMANCE
        tally, session = self.tally, self.session
        sent = Counter[str]()

        @settings(
            max_examples=EXAMPLES[target.mode],
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=target.strategy)
        def run(case: Any) -> None:
            headers = dict(case.headers or {})
            headers.pop("Authorization", None)
            credentials = target.credentials[sent[target.key] % len(target.credentials)]
            sent[target.key] += 1
            case.headers = {**headers, **credentials}
            response = case.call(base_url=target.base_url, session=session, timeout=30)
            tally.cases[target.mode] += 1
            tally.statuses[response.status_code] += 1
            tally.server_errors += response.status_code >= 500 and not_a_server_error in checks
            try:
                case.validate_response(response, checks=checks)
                if target.must_refuse and response.status_code not in (400, 401, 403):
                    raise AssertionError(f"not refused: {response.status_code}")
            except (Exception, FailureGroup) as exc:  # the first failure per operation and mode
                request = f"{case.method} {response.request.url}"
                tally.failures.setdefault(target.key, f"{request} -> {response.status_code}: {exc}")

        run()


async def test_every_service_survives_fuzzing_and_answers_as_documented(
    platform: Platform,
) -> None:
    started = time.monotonic()
    fuzz = Fuzz(started + BUDGET_S)
    async with contextlib.AsyncExitStack() as stack:
        targets = []
        for name, app in platform.apps.items():
            base_url = await stack.enter_async_context(served(app))
            targets += _targets(platform, name, app, base_url)
        await asyncio.to_thread(fuzz.all, targets)
    tally, elapsed = fuzz.tally, time.monotonic() - started
    summary = (
        f"fuzz: {len(targets)} operation/modes, {sum(tally.cases.values())} cases in"
        f" {elapsed:.0f}s {dict(tally.cases)}, statuses {dict(sorted(tally.statuses.items()))},"
        f" {tally.server_errors} server errors, {len(tally.skipped)} operation/modes skipped for"
        f" time, {len(tally.nothing_to_negate)} without parameters to negate"
    )
    print(summary)
    assert tally.failures == {}, "\n".join([summary, *tally.failures.values()])
    assert tally.server_errors == 0, summary
    positive = [t for t in targets if t.mode == "valid-positive"]
    assert not [key for key in tally.skipped if key.endswith("[valid-positive]")], summary
    assert tally.cases["valid-positive"] >= 3 * len(positive), summary


async def call(
    platform: Platform, service: str, method: str, path: str, token: str | None, **kwargs: Any
) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=platform.apps[service])
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        return await http.request(method, path, headers=headers, **kwargs)


async def test_bad_bytes_in_paths_queries_and_bodies_are_400s_with_a_reason(
    platform: Platform,
) -> None:
    """What fuzzing found as 500s (issue 13 item 5): NUL reached PostgreSQL from a query string;
    the guard refuses NUL, control characters and invalid UTF-8 before any route runs."""
    ws, admin = f"/v1/workspaces/{platform.a.workspace}", platform.a.admin
    for service, path in [
        ("conflict-resolver", f"{ws}/observations?person=%00&date=2026-11-20"),
        ("conflict-resolver", f"{ws}/observations?person=%FF&date=2026-11-20"),
        ("reporting", f"{ws}/sync-log?entry=%00"),
        ("invoice-export", f"{ws}/invoices?status=%00"),
        ("mapping", f"{ws}/source-entries/core/te%001"),
        ("mapping", f"{ws}/source-entries/core/te%0A1"),
    ]:
        answered = await call(platform, service, "GET", path, admin)
        assert answered.status_code == 400, (path, answered.text)
        assert "control character" in answered.json()["detail"] or "UTF-8" in answered.text
    mapping = f"{ws}/integrations/i/project-mappings/p_1"
    answered = await call(
        platform, "mapping", "PUT", mapping, admin, json={"tracker_project_id": "ev:1\u0000"}
    )
    assert answered.status_code == 400, answered.text
    assert answered.json()["errors"][0]["loc"] == ["body", "tracker_project_id"]


async def test_refusals_have_one_documented_shape(platform: Platform) -> None:
    """``detail`` is always a string; validation adds ``errors`` (without echoing the input, an
    API key here); every error answer of every document is ``ErrorBody`` (issue 13 item 6)."""
    ws, admin = f"/v1/workspaces/{platform.a.workspace}", platform.a.admin
    test = f"{ws}/integrations/everhour/test"
    answered = await call(platform, "ingest", "POST", test, admin, json={"api_key": "kľúč-€"})
    body = answered.json()
    assert answered.status_code == 422, body
    assert isinstance(body["detail"], str)
    assert "body.api_key" in body["detail"]
    assert [e["loc"] for e in body["errors"]] == [["body", "api_key"]]
    assert "kľúč" not in answered.text
    refused = await call(
        platform, "conflict-resolver", "GET", f"{ws}/observations?person=ann&date=2026-11-20", None
    )
    assert refused.status_code == 401
    assert refused.json() == {"detail": "a Core user token is required"}
    registered = await call(
        platform,
        "ingest",
        "PUT",
        f"/v1/admin/workspaces/{platform.a.workspace}",
        platform.platform_token,
        json={"core_base_url": "", "core_api_token": platform.a.service},
    )
    assert registered.status_code == 422, registered.text
    for service, app in platform.apps.items():
        document = app.openapi()
        assert "HTTPValidationError" not in document["components"]["schemas"], service
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for code, response in operation["responses"].items():
                    if code[0] in "45" and path != "/readyz":
                        schema = response["content"]["application/json"]["schema"]
                        ref = schema["$ref"]
                        assert ref == "#/components/schemas/ErrorBody", (service, method, path)
