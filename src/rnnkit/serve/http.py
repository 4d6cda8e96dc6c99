"""What every endpoint of the server shares: client errors (and FastAPI's handler of them), the
API key, reading and parsing a request body from ASGI messages, the limits on a request's list
of texts, and JSON answers written straight to ASGI ``send``.

Every bad request is an ``HttpError``: a status and a ``detail`` that says what to change.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.types import Receive, Send

from rnnkit.text.unicode import check_unicode

JSON = "application/json"
Request = TypeVar("Request", bound=BaseModel)


class HttpError(Exception):
    """A client error: ``status`` and a message that says what to change."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def check_key(api_key: str | None, headers: Headers) -> None:
    """401 unless the headers carry ``api_key`` (X-API-Key or Authorization: Bearer), compared
    in constant time; anything passes when the server has no key."""
    if api_key is None:
        return
    given = headers.get("x-api-key")
    bearer = headers.get("authorization", "")
    if given is None and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    if given is None:
        raise HttpError(401, "missing API key: send the header X-API-Key: KEY")
    if not hmac.compare_digest(given.encode(), api_key.encode()):
        raise HttpError(401, "wrong API key")


async def error_response(request: HttpRequest, error: Exception) -> JSONResponse:
    """FastAPI's handler of ``HttpError``: its status and ``{"detail": ...}`` (and the Bearer
    challenge with a 401)."""
    if not isinstance(error, HttpError):  # registered for HttpError only
        raise error
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    if error.status == 408:  # the rest of the body may still come: the connection ends
        headers["Connection"] = "close"
    return JSONResponse({"detail": error.detail}, status_code=error.status, headers=headers)


def check_text_list(texts: list[str], max_batch: int, max_chars: int) -> None:
    """HttpError unless ``texts`` holds 1 to ``max_batch`` texts (--max-batch), each of 1 to
    ``max_chars`` characters (--max-chars) and not only white space."""
    if not texts:
        raise HttpError(422, "texts: the list is empty; send at least one text")
    if len(texts) > max_batch:
        raise HttpError(
            413,
            f"texts: {len(texts)} texts is over the limit of {max_batch} (--max-batch); "
            "split the request",
        )
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise HttpError(
                413,
                f"texts[{i}]: {len(text):,} characters is over the limit of {max_chars:,} "
                "(--max-chars)",
            )
        if not text.strip():
            raise HttpError(422, f"texts[{i}]: empty text")
        unicode_text(text, f"texts[{i}]")


def unicode_text(text: str, name: str) -> None:
    """HttpError 422 unless ``text`` is valid Unicode (JSON lets a lone surrogate through)."""
    try:
        check_unicode(text, name)
    except ValueError as error:
        raise HttpError(422, str(error)) from None


async def chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body's chunks from ASGI ``http.request`` messages."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "the client disconnected before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def read_body(
    headers: Headers,
    body: AsyncIterator[bytes],
    limit: int,
    flags: str,
    timeout: float | None = None,
) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes (which the
    options ``flags`` set), and with 408 when it has not all arrived ``timeout`` seconds
    after the headers (--body-timeout): a client that sends less than its Content-Length, or
    sends it slowly, holds no connection for longer."""
    too_large = f"is over the limit of {limit:,} bytes ({flags})"
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HttpError(413, f"request body of {int(length):,} bytes {too_large}")
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    parts: list[bytes] = []
    size = 0
    chunks = body.__aiter__()
    while True:
        try:
            if deadline is None:
                chunk = await chunks.__anext__()
            else:
                chunk = await asyncio.wait_for(chunks.__anext__(), max(deadline - loop.time(), 0))
        except StopAsyncIteration:
            return b"".join(parts)
        except asyncio.TimeoutError:
            expected = f"{int(length):,}" if length is not None and length.isdigit() else "?"
            raise HttpError(
                408,
                f"the request body did not arrive within {timeout:g} s (--body-timeout): "
                f"{size:,} of {expected} bytes came; send the whole body",
            ) from None
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"request body {too_large}")
        parts.append(chunk)


def parse(raw: bytes, model: type[Request], example: str) -> Request:
    """The body as a ``model``, whatever its content type says; errors are 4xx. ``example``
    shows the JSON object expected."""
    from pydantic import ValidationError

    try:
        data = json.loads(raw)
    except UnicodeDecodeError as error:
        raise HttpError(400, f"the body is not UTF-8 ({error})") from None
    except json.JSONDecodeError as error:
        raise HttpError(400, f"invalid JSON: {error}") from None
    except RecursionError:
        raise HttpError(400, "invalid JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise HttpError(400, f"invalid JSON: {error}") from None
    if not isinstance(data, dict):
        raise HttpError(422, f"expected a JSON object such as {example}, got {data!r:.40}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        messages = [f"{where(p['loc'])}: {p['msg']}" for p in error.errors()]
        raise HttpError(422, "; ".join(messages)) from None


def where(location: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path: ("texts", 2) -> texts[2]."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    return text.lstrip(".") or "body"


def error_body(detail: str) -> bytes:
    return json.dumps({"detail": detail}, ensure_ascii=False).encode()


async def send_json(send: Send, status: int, body: bytes) -> None:
    """A whole JSON response (and the Bearer challenge with a 401; a 408 closes the
    connection, since the rest of the body may still come)."""
    extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    if status == 408:
        extra.append((b"connection", b"close"))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def refuse_other_endpoints(app: Any, model: str, task: str) -> None:
    """On the FastAPI application ``app`` of ``model``, a model of ``task``, the other tasks'
    endpoints answer 404 saying what to call instead (and stay out of the docs)."""
    from rnnkit.tasks import registry

    own = registry.get(task)
    call = f"POST {own.route} with {own.example}"
    for spec in registry.specs():
        if spec.name == task or not spec.route or spec.route == own.route:
            continue
        detail = f"{model} is {own.title}: {call}; {spec.route} is served for {spec.plural}"

        async def refused(detail: str = detail) -> None:
            raise HttpError(404, detail)

        app.post(spec.route, include_in_schema=False)(refused)
