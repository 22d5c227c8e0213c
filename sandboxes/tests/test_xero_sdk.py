"""The Xero sandbox driven by Xero's own Python SDK (xero-python), as a new user would drive Xero:
connections, contacts, invoices and look-ups (payments and tokens in
``test_xero_sdk_payments_tokens``, errors and the spec checks in ``test_xero_sdk_errors_spec``;
their shared world in ``xero_sdk_world``).

Every Accounting request and answer is checked against Xero's OpenAPI file (``SpecChecked``);
webhook payloads against ``xero-webhooks.yaml``. The SDK talks HTTP to a real loopback server:
only its hosts are overridden (``base_url``, ``TokenApi.refresh_token_url``).
"""

import datetime as dt
import json
import time

import pytest
from xero_python.accounting import (  # type: ignore[import-untyped]
    Account,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineItem,
    Payment,
)
from xero_python.exceptions import (  # type: ignore[import-untyped]
    BadRequestException,
)

from sandboxes.tests.xero_sdk_world import (
    NEEDS_SPECS,
    World,
    error_body,
    make_world,
    new_customer,
    new_invoice,
    world,
)

pytestmark = NEEDS_SPECS
__all__ = ["make_world", "world"]  # the fixtures (from xero_sdk_world)


def test_connections_in_xeros_documented_case_and_the_sdks(world: World) -> None:
    """Xero documents ``GET /connections``; xero-python asks ``/Connections``: both answer."""
    sdk = world.identity.get_connections()
    assert [c.tenant_id for c in sdk] == [world.tenant]
    assert world.exchanges("/Connections")[0].status == 200
    with world.http() as http:
        documented = http.get("/connections", headers=world.bearer())
        one_event = http.get(
            "/connections",
            headers=world.bearer(),
            params={"authEventId": str(sdk[0].auth_event_id)},
        )
    assert documented.status_code == 200
    assert [c["tenantId"] for c in documented.json()] == [world.tenant]
    assert [c["id"] for c in one_event.json()] == [str(sdk[0].id)]


def test_contacts_put_post_update_and_the_ids_where_order_page_filters(world: World) -> None:
    created = world.accounting.create_contacts(
        world.tenant,
        Contacts(
            contacts=[
                Contact(name="Initech", email_address="ap@initech.example"),
                Contact(name="Hooli", contact_number="C-7"),
            ]
        ),
    ).contacts
    initech, hooli = created
    first = world.exchanges("/api.xro/2.0/Contacts")[0]
    assert first.method == "PUT"
    assert first.answer_headers["x-minlimit-remaining"] == "59"
    assert first.answer_headers["x-daylimit-remaining"] == "4999"

    saved = world.accounting.update_or_create_contacts(
        world.tenant,
        Contacts(
            contacts=[
                Contact(contact_id=initech.contact_id, name="Initech Ltd"),
                Contact(name="Pied Piper"),
            ]
        ),
    ).contacts
    assert saved[0].contact_id == initech.contact_id
    assert saved[0].name == "Initech Ltd"
    piper = saved[1]
    assert world.exchanges("/api.xro/2.0/Contacts")[1].method == "POST"

    world.accounting.update_contact(
        world.tenant,
        hooli.contact_id,
        Contacts(contacts=[Contact(contact_number="C-7", email_address="x@hooli.example")]),
    )

    by_ids = world.accounting.get_contacts(
        world.tenant, i_ds=[initech.contact_id, piper.contact_id]
    )
    assert {c.name for c in by_ids.contacts} == {"Initech Ltd", "Pied Piper"}
    where = 'Name.StartsWith("pied") OR EmailAddress=="x@hooli.example"'
    filtered = world.accounting.get_contacts(world.tenant, where=where)
    assert {c.name for c in filtered.contacts} == {"Pied Piper", "Hooli"}
    page = world.accounting.get_contacts(world.tenant, order="Name DESC", page=1, page_size=2)
    assert [c.name for c in page.contacts] == ["Pied Piper", "Initech Ltd"]
    assert page.pagination.item_count == 3
    assert page.pagination.page_count == 2

    world.accounting.update_contact(
        world.tenant, piper.contact_id, Contacts(contacts=[Contact(contact_status="ARCHIVED")])
    )
    active = world.accounting.get_contacts(world.tenant)
    everyone = world.accounting.get_contacts(world.tenant, include_archived=True)
    assert len(active.contacts) == 2
    assert len(everyone.contacts) == 3

    with pytest.raises(BadRequestException) as refused:
        world.accounting.create_contacts(world.tenant, Contacts(contacts=[Contact(name="hooli")]))
    body = error_body(refused.value)
    assert body["Type"] == "ValidationException"
    assert body["ErrorNumber"] == 10
    assert body["Elements"][0]["Name"] == "hooli"
    assert "already assigned" in body["Elements"][0]["ValidationErrors"][0]["Message"]


def test_invoice_dates_as_the_sdk_writes_them_update_and_void(world: World) -> None:
    contact = new_customer(world, "Globex")
    draft = new_invoice(world, contact.contact_id)
    sent = json.loads(world.exchanges("/api.xro/2.0/Invoices")[0].body)
    assert sent["Invoices"][0]["Date"] == "/Date(1795132800000)/"
    assert draft.date == dt.date(2026, 11, 20)
    assert draft.due_date == dt.date(2026, 12, 20)

    # the invoice as read, sent back: read-only fields and UpdatedDateUTC "/Date(ms+0000)/"
    fetched = world.accounting.get_invoice(world.tenant, draft.invoice_id).invoices[0]
    fetched.reference = "PO-2"
    world.accounting.update_invoice(world.tenant, draft.invoice_id, Invoices(invoices=[fetched]))
    resent = json.loads(world.exchanges(f"/api.xro/2.0/Invoices/{draft.invoice_id}")[-1].body)
    assert resent["Invoices"][0]["UpdatedDateUTC"].endswith("+0000)/")
    with world.http() as http:
        raw = http.post(
            f"/api.xro/2.0/Invoices/{draft.invoice_id}",
            headers=world.bearer(),
            json={"Invoices": [{"Date": "/Date(1700000000000+0000)/", "DueDate": "2023-12-14"}]},
        )
    assert raw.status_code == 200, raw.text
    assert raw.json()["Invoices"][0]["Date"] == "/Date(1699920000000+0000)/"
    assert raw.json()["Invoices"][0]["Reference"] == "PO-2"

    approved = Invoices(invoices=[Invoice(status="AUTHORISED")])
    world.accounting.update_invoice(world.tenant, draft.invoice_id, approved)
    voided = world.accounting.update_invoice(
        world.tenant, draft.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    ).invoices[0]
    assert voided.status == "VOIDED"

    other = new_invoice(world, contact.contact_id)
    world.accounting.update_invoice(
        world.tenant, other.invoice_id, Invoices(invoices=[Invoice(status="DELETED")])
    )
    listed = world.accounting.get_invoices(world.tenant)
    assert [i.invoice_id for i in listed.invoices] == [draft.invoice_id]
    deleted = world.accounting.get_invoices(world.tenant, statuses=["DELETED"])
    assert [i.invoice_id for i in deleted.invoices] == [other.invoice_id]
    chosen = world.accounting.get_invoices(
        world.tenant,
        i_ds=[draft.invoice_id, other.invoice_id],
        statuses=["VOIDED", "DELETED"],
        where='Contact.ContactID==guid("' + str(contact.contact_id) + '") AND Total>=100',
        order="Status DESC",
        page=1,
    )
    assert [i.status for i in chosen.invoices] == ["VOIDED", "DELETED"]
    assert chosen.invoices[0].line_items  # a paged read carries the lines

    with pytest.raises(BadRequestException) as refused:
        world.accounting.update_invoice(
            world.tenant, draft.invoice_id, Invoices(invoices=[Invoice(status="AUTHORISED")])
        )
    assert "VOIDED" in error_body(refused.value)["Elements"][0]["ValidationErrors"][0]["Message"]


def test_look_ups_by_number_search_terms_and_the_chart_of_accounts(world: World) -> None:
    created = world.accounting.create_contacts(
        world.tenant, Contacts(contacts=[Contact(name="Vandelay Industries", contact_number="V-1")])
    ).contacts[0]
    by_number = world.accounting.get_contact_by_contact_number(world.tenant, "V-1")
    assert by_number.contacts[0].contact_id == created.contact_id
    searched = world.accounting.get_contacts(world.tenant, search_term="vandelay")
    assert [c.contact_id for c in searched.contacts] == [created.contact_id]

    invoice = new_invoice(world, created.contact_id)
    found = world.accounting.get_invoices(world.tenant, search_term="po-1")
    assert [i.invoice_id for i in found.invoices] == [invoice.invoice_id]

    banks = world.accounting.get_accounts(world.tenant, where='Type=="BANK"').accounts
    assert [(a.code, a.type.value) for a in banks] == [("090", "BANK")]
    payment = Payment(
        invoice=Invoice(invoice_id=invoice.invoice_id),
        account=Account(account_id=banks[0].account_id),
        amount=1.0,
    )
    world.accounting.update_invoice(
        world.tenant, invoice.invoice_id, Invoices(invoices=[Invoice(status="AUTHORISED")])
    )
    paid = world.accounting.create_payment(world.tenant, payment).payments[0]
    assert paid.account.code == "090"


def test_summarize_errors_false_answers_every_element(world: World) -> None:
    contact = new_customer(world, "Soylent")
    good = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact.contact_id),
        line_items=[LineItem(description="Hours", quantity=1.0, unit_amount=10.0)],
    )
    bad = Invoice(type="ACCREC", line_items=[LineItem(description="No contact")])
    answered = world.accounting.create_invoices(
        world.tenant, Invoices(invoices=[good, bad]), summarize_errors=False
    ).invoices
    assert [i.status_attribute_string for i in answered] == ["OK", "ERROR"]
    assert answered[0].invoice_id is not None
    assert answered[1].validation_errors[0].message.startswith("A Contact")
    with pytest.raises(BadRequestException):
        world.accounting.create_invoices(world.tenant, Invoices(invoices=[bad]))


def test_if_modified_since_as_the_sdk_sends_it(world: World) -> None:
    old = new_customer(world, "Old Customer")
    time.sleep(0.01)
    since = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    new = new_customer(world, "New Customer")
    changed = world.accounting.get_contacts(world.tenant, if_modified_since=since)
    assert [c.contact_id for c in changed.contacts] == [new.contact_id]
    header = world.exchanges("/api.xro/2.0/Contacts")[-1].headers["if-modified-since"]
    assert header.startswith(since.isoformat()[:19])
    documented = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with world.http() as http:
        answer = http.get(
            "/api.xro/2.0/Contacts", headers={**world.bearer(), "If-Modified-Since": documented}
        )
    assert [c["ContactID"] for c in answer.json()["Contacts"]] == [new.contact_id]
    assert old.contact_id != new.contact_id
