"""The web application: `create_app(settings)` wires routes to a message bus.

Routes only turn HTTP into commands for the bus (STYLE.md items 1 and 7); the bus
is built with :func:`mobile_services.bootstrap.bootstrap` unless a test or the
CLI passes one. Nothing happens at import time: `mobile-services serve` calls
`create_app` once, tests call it with fakes (`clock=FixedClock(...)`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.web.deps import route_template
from mobile_services.web.routes import booking_form
from mobile_services.web.routes import bookings as booking_routes
from mobile_services.web.routes import communes, staff
from mobile_services.web.routes import health
from mobile_services.web.routes import sms as sms_routes
from notifications.ports import Clock, SmsSender

__all__ = ["create_app", "create_app_from_environment"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    bus: MessageBus | None = None,
    engine: Engine | None = None,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
) -> FastAPI:
    """Build the app. `engine`, `clock` and `sms` are used only when no `bus` is given."""
    if bus is None:
        bus = bootstrap(settings, engine=engine, sms=sms, clock=clock)
    app = FastAPI(
        title="mobile-services", version="0.1.0", openapi_url=None, docs_url=None, redoc_url=None,
        lifespan=_worker_threads(settings.web_threads),
    )  # fmt: skip
    app.state.settings = settings
    app.state.bus = bus
    app.include_router(health.router)
    app.include_router(sms_routes.router)
    app.include_router(booking_routes.router)
    app.include_router(communes.router)
    app.include_router(booking_form.router)
    app.include_router(staff.router)
    app.add_exception_handler(RequestValidationError, _bad_request)
    return app


def create_app_from_environment() -> FastAPI:
    """The app of one web worker of ``serve --workers N`` (uvicorn's factory, in a new process).

    Each worker is a fresh interpreter: it reads the same settings (environment and
    ``.env``) as the ``serve`` that started it, logs to the same file, and opens its own
    connection pool. ``serve`` migrated the database before starting any worker, and runs
    the scheduler itself: workers only answer HTTP.
    """
    from config import load_settings
    from mobile_services.cli.common import configure_logging
    from mobile_services.storage import db

    current = load_settings()
    configure_logging(current)
    return create_app(current, engine=db.make_engine(current.effective_database_url))


def _worker_threads(count: int):  # type: ignore[no-untyped-def]
    """Run at most ``count`` requests at once in this process's thread pool.

    Routes are plain functions, run in threads; anyio allows 40. At a peak of SMS, 40
    threads of CPU-bound Python in one process only pass the interpreter lock around: each
    request takes longer and the tail grows. A few threads (the database waits leave room
    for more than one) keep the cores busy; the other requests wait in the event loop,
    where waiting costs nothing.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = count
        yield

    return lifespan


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    """Malformed input is the client's fault: 400, with no echo of what was sent."""
    logger.info("bad request on %s", route_template(request))
    return JSONResponse({"detail": "bad request"}, status_code=400)
