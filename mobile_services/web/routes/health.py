"""`GET /healthz`: for load balancers and `mobile-services serve` users: is the database reachable?"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from mobile_services.web.deps import BusDep

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(bus: BusDep) -> JSONResponse:
    """200 when the app can run a query, 503 otherwise (no detail: the log has it)."""
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    try:
        with bus.uow_factory() as uow:
            uow.session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as exc:  # noqa: BLE001 - reported as unhealthy, not raised
        logger.error("health check: database unreachable (%s)", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse(body)
