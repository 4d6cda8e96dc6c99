"""A stand-in for ``rnnkit serve`` with no model: POST /predict parses the JSON body and answers
one fixed prediction per text, either as a bare ASGI application or as a FastAPI route, to
time the HTTP stack alone (``serve_load.py``). Run: python benchmarks/_stack_app.py bare|fastapi
PORT."""

from __future__ import annotations

import json
import sys
from typing import Any

PREDICTION = {"label": "positive", "score": 0.9, "probs": {"positive": 0.9, "negative": 0.1}}


def answer(body: bytes) -> bytes:
    texts = json.loads(body)["texts"]
    return json.dumps({"predictions": [PREDICTION] * len(texts), "model": "none"}).encode()


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/health":
        body = b'{"status": "ok"}'
    else:
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = answer(b"".join(chunks))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def fastapi_app() -> Any:
    from fastapi import FastAPI, Request, Response

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        return Response(answer(await request.body()), media_type="application/json")

    return app


if __name__ == "__main__":
    import uvicorn

    kind, port = sys.argv[1], int(sys.argv[2])
    application = bare if kind == "bare" else fastapi_app()
    uvicorn.run(application, host="127.0.0.1", port=port, access_log=False, log_level="warning")
