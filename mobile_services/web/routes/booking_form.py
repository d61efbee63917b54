"""The stop page: free slots by service, and booking online.

Booking online goes through the same command and rules as by SMS (:class:`BookSlot`:
capacity, cut-off, one live booking per stop, confirmation and reminders by SMS); the
phone number is proved first by a one-time code sent by SMS.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from config import Settings
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.views import stop_offer
from mobile_services.web.pages import not_found, templates

logger = logging.getLogger(__name__)

router = APIRouter()


def render_stop_page(request: Request, visit_id: int, bus: MessageBus, settings: Settings, error: str = "") -> Response:
    from mobile_services.web.routes.communes import current_visit, redirect_to

    now = bus.dependencies["clock"].now()
    with bus.uow_factory() as uow:
        visit = current_visit(uow.session, visit_id)
        if visit is None or visit.end_at <= now:
            return not_found(request)
        if visit.id != visit_id:
            return redirect_to(visit.id)  # type: ignore[arg-type]
        offer = stop_offer(uow.session, visit, now, settings.booking_cutoff_minutes)
    return templates.TemplateResponse(
        request, "stop.html", {"stop": offer, "tz": settings.tz, "error": error}, status_code=400 if error else 200
    )
