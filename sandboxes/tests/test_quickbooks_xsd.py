"""The QuickBooks sandbox's element index is Intuit's XSD, and the XSD check used on what the
sandbox exchanges catches what it should."""

import json
from pathlib import Path

import httpx
import pytest

from timebridge_sandboxes.quickbooks import QuickBooksState, create_quickbooks_sandbox
from timebridge_sandboxes.quickbooks.elements import conform
from timebridge_sandboxes.quickbooks.xsd import INDEX, Schema, index, load
from timebridge_sandboxes.testing import provider_specs

XSD = provider_specs() / "quickbooks-v3-xsd"


@pytest.fixture
def xsd() -> Schema:
    if not XSD.is_dir():
        pytest.skip(f"QuickBooks XSD not found at {XSD} (the shared provider-specs folder)")
    return load(XSD.resolve())


def test_the_index_is_what_the_xsd_gives_the_served_entities(xsd: Schema) -> None:
    assert INDEX.read_text() == xsd.closure().dumps(), (
        "regenerate: python -m timebridge_sandboxes.quickbooks.xsd <quickbooks-v3-xsd folder>"
    )
    assert "AllowIPNPayment" in index().types["Invoice"]
    assert index().types["Line"]["LinkedTxn"] == "LinkedTxn[]"


def test_the_check_catches_wrong_names_and_kinds(xsd: Schema) -> None:
    good = {"TotalAmt": "1.50", "SyncToken": 0, "DueDate": "", "CustomerRef": {"value": "1"}}
    assert xsd.mistakes("Invoice", good) == []
    bad = {"Total": 1, "CustomerRef": {"id": "1"}, "TxnDate": "01/12/2026", "Line": {}}
    assert xsd.mistakes("Invoice", bad) == [
        "Invoice.Total",
        "Invoice.CustomerRef.id",
        "Invoice.TxnDate",
        "Invoice.Line: a list expected",
    ]
    answer = {
        "QueryResponse": {"Customer": [{"Id": "1", "Nickname": "x"}]},
        "time": "2026-11-20T09:00:00-08:00",
    }
    assert xsd.mistakes("IntuitResponse", answer) == [
        "IntuitResponse.QueryResponse.Customer[0].Nickname"
    ]


def test_bodies_are_read_leniently_as_quickbooks_reads_json() -> None:
    body = {
        "SyncToken": 3,
        "Deposit": "25.50",
        "AllowIPNPayment": "true",
        "DueDate": "",
        "CustomerRef": {"value": 7, "name": "", "type": ""},
    }
    assert conform("Invoice", body) == {
        "SyncToken": "3",
        "Deposit": 25.5,
        "AllowIPNPayment": True,
        "DueDate": None,
        "CustomerRef": {"value": "7", "name": None, "type": None},
    }


async def post(path: str, content: bytes, content_type: str = "application/json") -> httpx.Response:
    """``content`` posted to the company's ``path`` with a valid token, as any client would."""
    state = QuickBooksState()
    state.add_app("c", "s", ["https://x.test/cb"])
    realm = state.add_company("Acme")
    token = state.issue_tokens(realm, "c")[0]
    transport = httpx.ASGITransport(create_quickbooks_sandbox(state))
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Content-Type": content_type,
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://qbo.test") as client:
        return await client.post(f"/v3/company/{realm}/{path}", content=content, headers=headers)


def fault_of(answer: httpx.Response) -> tuple[int, str, str, str]:
    body = answer.json()["Fault"]
    error = body["Error"][0]
    return answer.status_code, body["type"], error["code"], error["Detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"Total": 1}, "Property Name:Total"),
        ({"Deposit": "ten"}, "a number expected"),
        ({"TxnDate": "2026-13-01"}, "not a valid date"),
        ({"EmailStatus": "Sent"}, "Invalid Enumeration"),
        ({"Line": {"Amount": 1}}, "a list expected"),
    ],
)
async def test_what_the_xsd_does_not_allow_is_fault_2010(
    body: dict[str, object], detail: str
) -> None:
    status, kind, code, found = fault_of(await post("invoice", json.dumps(body).encode()))
    assert (status, kind, code) == (400, "ValidationFault", "2010")
    assert detail in found


async def test_entities_the_api_does_not_write_are_unsupported_operations() -> None:
    for path in ("account", "companyinfo"):
        status, kind, code, detail = fault_of(await post(path, b'{"Name": "Sales"}'))
        assert (status, kind, code) == (400, "ValidationFault", "500")
        assert "not supported" in detail


@pytest.mark.parametrize(
    ("path", "content", "content_type"),
    [
        ("invoice", b"\xff\xfe{", "application/json"),
        ("invoice", b"[" * 100_000, "application/json"),
        ("invoice", b"[1, 2]", "application/json"),
        ("query", b"SELECT * FROM \xff", "application/text"),
        ("query", b"DROP TABLE Customer", "application/text"),
        ("batch", b'{"BatchItemRequest": [{"bId": 1}]}', "application/json"),
    ],
)
async def test_bad_bytes_are_400_faults_never_500(
    path: str, content: bytes, content_type: str
) -> None:
    status, kind, _, _ = fault_of(await post(path, content, content_type))
    assert (status, kind) == (400, "ValidationFault")


def test_the_index_ships_with_the_package() -> None:
    assert INDEX.parent == Path(conform.__code__.co_filename).parent
    assert INDEX.is_file()
