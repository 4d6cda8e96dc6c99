"""The HTTP server: one model bundle behind FastAPI, for the task its config.json names.

    POST /<route>   the task's endpoint (a classifier's /predict, a language model's /generate,
                    a translator's /translate), answered straight from the ASGI messages
    GET  /health    liveness, and the endpoint's counters
    GET  /info      task, configuration, metrics, bundle format version and server limits
    GET  /docs, /openapi.json

``create_app`` looks the bundle's task up in :mod:`rnnkit.tasks.registry` and asks its
endpoint factory (in the task's folder) for an :class:`Endpoint`: the request and answer
models, what the route does with a request, its counters, what ``/info`` reports and what
starts and stops with the server. Everything else is here, once: the lifespan, /health and
/info, the API key, the body read with its limit and deadline, the JSON parse, the errors
(every bad request a 4xx with a ``detail`` that says what to change, any other failure a 500
that leaves the server answering), the other tasks' routes refused with a 404 that names the
right one, and the route's fast path around FastAPI (:class:`RouteFirst`). ``serve`` runs it
with uvicorn, in one process or several (``--workers``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from rnnkit.bundle import bundle_task
from rnnkit.errors import ConfigError
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import (
    JSON,
    HttpError,
    check_key,
    chunks,
    error_body,
    error_response,
    parse,
    read_body,
    refuse_other_endpoints,
    send_json,
)
from rnnkit.tasks import registry

log = logging.getLogger(__name__)

CONFIG_ENV = "RNNKIT_SERVE_CONFIG"  # how `rnnkit serve --workers N` hands the config to workers
INTERNAL = "internal error: see the server's log"


@dataclass
class Endpoint:
    """What a task's endpoint factory gives the server.

    - ``summary``: the OpenAPI page's summary; ``info``: what GET /info reports.
    - ``request``, ``response``: the pydantic models of the route's body and answer (the
      docs); ``example``: a request's body, for the message of a body that is not one.
    - ``body_limit``, ``body_flags``: the largest body worth reading, and the options that
      set it (named by the 413).
    - ``respond``: ``request -> JSON bytes``, the whole answer; or ``answer``:
      ``(request, receive, send)``, which writes the answer itself (a stream). Either raises
      ``HttpError`` for a bad request before it answers.
    - ``counters``: what GET /health adds to ``status``.
    - ``start``, ``stop``: awaited when the server starts and stops (a batcher, a worker).
    """

    summary: str
    info: dict[str, Any]
    request: type[BaseModel]
    response: type[BaseModel]
    example: str
    body_limit: int
    body_flags: str
    counters: Callable[[], dict[str, Any]]
    respond: Callable[[Any], Awaitable[bytes]] | None = None
    answer: Callable[[Any, Receive, Send], Awaitable[None]] | None = None
    start: Callable[[], Awaitable[None]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None


Route = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_app(config: ServeConfig) -> RouteFirst:
    """The ASGI application serving ``config.model``, for the task its config.json names."""
    spec = registry.get(bundle_task(config.model))
    if spec.endpoint is None:
        raise ConfigError(f"{config.model}: {spec.title} is not served (task {spec.name!r})")
    endpoint: Endpoint = spec.load("endpoint")(config)
    route = _route(endpoint, config, spec.route)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if endpoint.start is not None:
            await endpoint.start()
        yield
        if endpoint.stop is not None:
            await endpoint.stop()

    api = FastAPI(title="rnnkit", summary=endpoint.summary, lifespan=lifespan)
    api.add_exception_handler(HttpError, error_response)

    @api.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", **endpoint.counters()}

    @api.get("/info")
    async def get_info(request: Request) -> dict[str, Any]:
        check_key(config.api_key, request.headers)
        return endpoint.info

    schema = endpoint.request.model_json_schema()

    @api.post(
        spec.route,
        response_model=endpoint.response,
        openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}},
    )
    async def documented() -> Response:
        # Documents the route; requests reach it only where this FastAPI application is used
        # without the RouteFirst wrapper create_app returns, and answer alike.
        return _Answered(route)

    refuse_other_endpoints(api, endpoint.info["model"], spec.name)
    return RouteFirst(api, spec.route, route)


def _route(endpoint: Endpoint, config: ServeConfig, path: str) -> Route:
    """The endpoint's POST route from the ASGI messages: the key, the body (its limit and
    deadline), the request parsed, then the endpoint's answer; errors as JSON."""

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        try:
            check_key(config.api_key, headers)
            raw = await read_body(
                headers,
                chunks(receive),
                endpoint.body_limit,
                endpoint.body_flags,
                config.body_timeout,
            )
            request = parse(raw, endpoint.request, endpoint.example)
            if endpoint.answer is not None:
                await endpoint.answer(request, receive, send)
                return
            assert endpoint.respond is not None
            status, body = 200, await endpoint.respond(request)
        except HttpError as error:
            status, body = error.status, error_body(error.detail)
        except Exception:  # the client gets a 500, the server stays up
            log.exception("POST %s failed", path)
            status, body = 500, error_body(INTERNAL)
        await send_json(send, status, body)

    return route


class RouteFirst:
    """The ASGI application ``rnnkit serve`` runs: the endpoint's POST route straight from
    the ASGI messages, everything else through FastAPI (``api``). FastAPI's middleware,
    routing and request objects cost more per request than the model's share of a short
    text in a batch (RESULTS.md ``serve-load`` times the HTTP stack alone both ways;
    design.md, decision 22)."""

    def __init__(self, api: FastAPI, path: str, route: Route) -> None:
        self.api, self.path, self.route = api, path, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] == "POST":
            await self.route(scope, receive, send)
        else:
            await self.api(scope, receive, send)


class _Answered(Response):
    """A FastAPI response that the route writes from the ASGI messages itself, reading the
    body too (FastAPI has not read it: the documented route declares no body parameter)."""

    def __init__(self, route: Route) -> None:
        super().__init__()
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.route(scope, receive, send)


def create_app_from_env() -> Any:
    """uvicorn's factory in each worker process of ``rnnkit serve --workers N``."""
    return create_app(ServeConfig.from_json(os.environ[CONFIG_ENV]))


def serve(config: ServeConfig, app: Any = None) -> None:
    """Run the server in the foreground until interrupted: ``app`` (built by ``create_app``
    before), or in each of ``config.workers`` processes its own."""
    import uvicorn

    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "access_log": config.access_log,
        "log_level": "info",
        "timeout_graceful_shutdown": 5,
    }
    if config.workers > 1:  # each worker imports the app through the factory
        os.environ[CONFIG_ENV] = config.to_json()
        uvicorn.run(
            "rnnkit.serve.app:create_app_from_env", factory=True, workers=config.workers, **options
        )
    else:
        uvicorn.run(app if app is not None else create_app(config), **options)
