"""Reading a webhook request's raw parts without ever failing with a 500.

Receivers check signatures on the exact bytes received, so they read the body themselves (not
through FastAPI's parsing), bounded in size, and take signature headers as text that must be
ASCII: Starlette decodes header bytes as Latin-1, and comparing a non-ASCII ``str`` with
``hmac.compare_digest`` raises ``TypeError`` (the 500s fuzzing found).
"""

from fastapi import HTTPException, Request, status


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with ``413`` as soon as it exceeds ``limit`` bytes (declared or
    streamed: nothing larger is held in memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def ascii_header(value: str | None, name: str, *, max_length: int = 4096) -> str | None:
    """``value`` when it is printable ASCII of a sane length; a ``401`` naming the header
    otherwise (a signature that cannot even be compared does not authenticate anything)."""
    if value is None:
        return None
    if not value.isascii() or not value.isprintable() or len(value) > max_length:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"malformed {name} header: not printable ASCII of at most {max_length} characters",
        )
    return value
