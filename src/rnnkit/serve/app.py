"""The HTTP server: one model bundle behind FastAPI, for the task its config.json names.

``create_app`` looks the bundle's task up in :mod:`rnnkit.tasks.registry` and builds the
application of its endpoint (a classifier's POST /predict, a language model's POST /generate,
a translator's POST /translate, each in its task's folder); each answers the others'
endpoints with a 404 that names the right one. ``serve`` runs it with uvicorn, in one process
or several (``--workers``).
"""

from __future__ import annotations

import os
from typing import Any

from rnnkit.bundle import bundle_task
from rnnkit.errors import ConfigError
from rnnkit.serve.config import ServeConfig
from rnnkit.tasks import registry

CONFIG_ENV = "RNNKIT_SERVE_CONFIG"  # how `rnnkit serve --workers N` hands the config to workers


def create_app(config: ServeConfig) -> Any:
    """The ASGI application serving ``config.model``, for the task its config.json names."""
    spec = registry.get(bundle_task(config.model))
    if spec.endpoint is None:
        raise ConfigError(f"{config.model}: {spec.title} is not served (task {spec.name!r})")
    return spec.load("endpoint")(config)


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
