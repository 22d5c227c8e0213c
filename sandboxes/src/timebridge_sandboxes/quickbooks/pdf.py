"""``GET /invoice/{id}/pdf``: the invoice as a PDF (``application/pdf``), as QuickBooks renders it
for printing and email; here a one-page document naming its number, customer, lines and total."""

from timebridge_sandboxes.quickbooks.base import Json


def _text(value: object) -> str:
    """A PDF string literal's content: backslashes and parentheses escaped, Latin-1 only."""
    text = str(value).encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def invoice_pdf(invoice: Json) -> bytes:
    lines = [
        f"Invoice {invoice.get('DocNumber', '')}",
        f"{invoice['CustomerRef'].get('name', '')}, {invoice.get('TxnDate', '')}",
        *(
            f"{line.get('Description', '')} {line.get('Amount', 0)}"
            for line in invoice.get("Line", [])
            if line.get("DetailType") != "SubTotalLineDetail"
        ),
        f"Total {invoice['TotalAmt']} {invoice['CurrencyRef']['value']}",
        f"Balance due {invoice['Balance']}",
    ]
    shown = " ".join(f"({_text(line)}) Tj 0 -20 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    document = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(document)
