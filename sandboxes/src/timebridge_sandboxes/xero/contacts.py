"""Xero's contact rules: creation (``PUT``/``POST /Contacts``), updates, and how documents name one.

Documented: a new contact needs a ``Name``, unique among the organisation's contacts; ``POST
/Contacts`` updates the contact its ``ContactID`` (or ``ContactNumber``) names and creates the
others; ``POST /Contacts/{id}`` updates that one; ``ContactStatus`` ``ARCHIVED`` archives it. A
document (invoice) names its contact by ``ContactID``, ``ContactNumber`` or ``Name``.
"""

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.state import Invalid, Json, XeroState, _Contact
from timebridge_sandboxes.xero.wire import _ContactIn, _ContactRef, echo

NOT_FOUND = "The resource you're looking for cannot be found"


def _echo(body: _ContactIn) -> Json:
    return echo(body)


class Contacts:
    """Look-ups and changes of contacts, with their webhook events."""

    state: XeroState

    def contact(self, contact_id: str, tenant_id: str | None = None) -> _Contact:
        """The contact by ``ContactID``, or within a tenant by ``ContactNumber`` as well."""
        contact = self.state.contacts.get(contact_id.lower())
        if contact is None and tenant_id is not None:
            contact = self.named_contact(tenant_id, _ContactRef(ContactNumber=contact_id))
        if contact is None or tenant_id not in (None, contact.tenant_id):
            raise ApiError(404, NOT_FOUND)
        return contact

    def named_contact(self, tenant_id: str, ref: _ContactRef) -> _Contact | None:
        """The contact a document names by id, number or name (None when none matches)."""
        for contact in self.state.contacts.values():
            if contact.tenant_id != tenant_id:
                continue
            if ref.ContactID is not None:
                if contact.id == ref.ContactID.lower():
                    return contact
            elif ref.ContactNumber is not None:
                if contact.contact_number == ref.ContactNumber:
                    return contact
            elif ref.Name is not None and contact.name.casefold() == ref.Name.casefold():
                return contact
        return None

    def _check_name(self, tenant_id: str, body: _ContactIn, contact: _Contact | None) -> None:
        if body.Name is None:
            return
        for other in self.state.contacts.values():
            if (
                other.tenant_id == tenant_id
                and other is not contact
                and other.name.casefold() == body.Name.casefold()
            ):
                raise Invalid(
                    f"The contact name {body.Name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts.",
                    _echo(body),
                )

    def create_contact(self, tenant_id: str, body: _ContactIn, *, ui: bool = False) -> _Contact:
        """A new contact; ``IsCustomer``/``IsSupplier`` are Xero's to set (by the first
        invoice or bill) except when a user ticks them in the UI (``ui``)."""
        if body.Name is None or not body.Name.strip():
            raise Invalid("The contact name must be specified.", _echo(body))
        self._check_name(tenant_id, body, None)
        contact_id = self.state.add_contact(
            tenant_id,
            body.Name,
            is_customer=ui and body.IsCustomer is not False,
            is_supplier=ui and bool(body.IsSupplier),
            email=body.EmailAddress or "",
            tax_number=body.TaxNumber or "",
            addresses=body.Addresses,
            contact_number=body.ContactNumber,
        )
        contact = self.state.contacts[contact_id]
        if body.ContactStatus is not None:
            contact.status = body.ContactStatus
        return contact

    def save_contact(self, tenant_id: str, body: _ContactIn) -> _Contact:
        """``POST /Contacts``: update the contact named by ``ContactID``/``ContactNumber``, or
        create one."""
        if body.ContactID is not None:
            known = self.named_contact(tenant_id, _ContactRef(ContactID=body.ContactID))
            if known is None:
                raise Invalid(f"Contact with ID {body.ContactID} could not be found", _echo(body))
            return self.change_contact(known, body)
        if body.ContactNumber is not None:
            known = self.named_contact(tenant_id, _ContactRef(ContactNumber=body.ContactNumber))
            if known is not None:
                return self.change_contact(known, body)
        return self.create_contact(tenant_id, body)

    def change_contact(self, contact: _Contact, body: _ContactIn) -> _Contact:
        self._check_name(contact.tenant_id, body, contact)
        if body.Name is not None:
            contact.name = body.Name
        if body.EmailAddress is not None:
            contact.email = body.EmailAddress
        if body.TaxNumber is not None:
            contact.tax_number = body.TaxNumber
        if body.ContactNumber is not None:
            contact.contact_number = body.ContactNumber
        if body.Addresses is not None:
            contact.addresses = body.Addresses
        if body.ContactStatus is not None:
            contact.status = body.ContactStatus
        contact.updated_at = self.state.stamp()
        self.state.announce("CONTACT", "UPDATE", contact.id, contact.tenant_id)
        return contact
