"""The capturing SMTP server: what is sent to it over SMTP can be read back over HTTP."""

import httpx

from timebridge_reporting.adapters.mail import SmtpMailer, compose
from timebridge_reporting.mail_capture import MailCapture, http_app
from timebridge_reporting.reports_config import SmtpConfig


async def test_captured_mail_is_readable_over_http() -> None:
    capture = MailCapture().start()
    try:
        message = compose(
            sender="reports@timebridge.test", recipient="ann@acme.test", subject="Time",
            text="hello", attachments={"csv": b"a,b\r\n"}, basename="time", msg_id="<1@t>",
        )  # fmt: skip
        await SmtpMailer(SmtpConfig(port=capture.port)).send(message)
        transport = httpx.ASGITransport(app=http_app(capture))
        async with httpx.AsyncClient(transport=transport, base_url="http://mail") as http:
            assert (await http.get("/_sandbox/faults")).status_code == 200
            [summary] = (await http.get("/messages")).json()
            assert (summary["to"], summary["subject"]) == (["ann@acme.test"], "Time")
            assert summary["attachments"] == [{"filename": "time.csv", "size": 5}]
            body = await http.get("/messages/0/attachments/time.csv")
            assert body.content == b"a,b\r\n"
            assert (await http.get("/messages/1/raw")).status_code == 404
            assert (await http.delete("/messages")).status_code == 204
            assert (await http.get("/messages")).json() == []
    finally:
        capture.stop()
