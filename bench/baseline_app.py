"""The bare minimum a signed-webhook receiver must do, as a yardstick for ingest's accept path.

Starlette + aiokafka, nothing else: check the ``Core-Signature`` HMAC (the same header format
and tolerance as ingest), parse the JSON body, produce it with ``acks="all"`` and idempotence,
await Kafka's acknowledgement, then answer ``202``. No database, no replay window, no schema,
no envelope, no tracing, no logging: what ingest adds on top is what the ratio measures.

Run by ``bench/accept.py`` (same uvicorn settings as the services, so the same HTTP parser and
event loop): ``python bench/baseline_app.py --port P --kafka HOST:PORT --topic T``, with the
secret in ``BASELINE_SECRET``.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator

import uvicorn
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOLERANCE_S = 300


def verified(secret: bytes, header: str | None, body: bytes) -> bool:
    """Whether ``header`` (``t=<unix>,v1=<hex>``) signs ``body`` within the tolerance."""
    if not header:
        return False
    parts = dict(item.partition("=")[::2] for item in header.split(","))
    raw_t, given = parts.get("t", ""), parts.get("v1", "")
    if not raw_t.isdigit() or abs(time.time() - int(raw_t)) > TOLERANCE_S:
        return False
    mac = hmac.new(secret, raw_t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, given)


def build_app(kafka: str, topic: str, secret: str) -> Starlette:
    key = secret.encode()
    producers: list[AIOKafkaProducer] = []  # made in the lifespan: aiokafka needs the loop

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verified(key, request.headers.get("core-signature"), body):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        try:
            payload = json.loads(body)
            entry_id = str(payload["data"]["time_entry"]["id"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"detail": "not a Core webhook"}, status_code=422)
        await producers[0].send_and_wait(topic, body, key=entry_id.encode())
        return JSONResponse({"status": "accepted"}, status_code=202)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
        await producer.start()
        producers.append(producer)
        try:
            yield
        finally:
            await producer.stop()

    return Starlette(
        routes=[Route("/v1/webhooks/core/{workspace_id}", receive, methods=["POST"])],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()
    app = build_app(args.kafka, args.topic, os.environ["BASELINE_SECRET"])
    # The services' uvicorn settings (timebridge_common.runtime): same parser and loop choice.
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main()
