"""Public pages and feeds of a commune: stable links printed on posters.

``/communes/{insee}`` (page), ``/communes/{insee}/calendar.ics`` (feed, also offered as
``webcal://``) and ``/passages/{visit_id}`` (a stop: free slots by service, booking form).
The INSEE code is public; no link carries anything personal. A stop page of a version
replaced by a re-plan redirects to the stop that continues it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.service_layer.calendars import StopView, commune_stops
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from mobile_services.web.deps import BusDep, SettingsDep
from mobile_services.web.pages import calendar_response, national, not_found, templates, text_renderer
from notifications.ical import feed, visit_entry

logger = logging.getLogger(__name__)

router = APIRouter()

#: The public feed shows the next 8 weeks; cancelled stops stay this long after their date.
FEED_WEEKS = 8
KEEP_CANCELLED = timedelta(weeks=3)
_INSEE_CHARS = set("0123456789AB")


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - KEEP_CANCELLED, now + timedelta(weeks=FEED_WEEKS)


def _commune(uow: UnitOfWork, insee: str) -> tuple[t.Commune, t.Territory] | None:
    if len(insee) != 5 or not set(insee.upper()) <= _INSEE_CHARS:
        return None
    with uow:
        row = uow.session.exec(
            select(t.Commune, t.Territory)
            .join(t.Territory, col(t.Territory.id) == t.Commune.territory_id)
            .where(t.Commune.insee_code == insee.upper())
            .order_by(col(t.Commune.id))
        ).first()
        return (row[0], row[1]) if row is not None else None


def _stops(uow: UnitOfWork, insee: str, since: datetime, until: datetime) -> list[StopView]:
    with uow:
        return commune_stops(uow.session, insee, since, until)


def host_of(settings: Settings) -> str:
    return settings.public_base_url.host or "localhost"


def stop_entries(stops: list[StopView], settings: Settings, *, hint: str | None, private: bool):  # type: ignore[no-untyped-def]
    renderer = text_renderer(settings.timezone)
    return [
        visit_entry(
            visit_id=stop.origin_id, host=host_of(settings), start=stop.start_at, end=stop.end_at,
            site=stop.site_name, commune=stop.commune_name, address=stop.site_address, sequence=stop.sequence,
            cancelled=stop.cancelled, services=stop.services, booking_hint=hint,
            link=f"{settings.base_url}/passages/{stop.visit_id}", last_modified=stop.last_modified,
            geo=(stop.latitude, stop.longitude), bookings=stop.bookings if private else None, renderer=renderer,
        )  # fmt: skip
        for stop in stops
    ]


def commune_calendar(
    uow: UnitOfWork, commune: t.Commune, territory: t.Territory, settings: Settings, since: datetime, until: datetime
) -> bytes:
    """The commune's feed over [since, until) (benchmarks/feeds.py times it over a year)."""
    stops = _stops(uow, commune.insee_code, since, until)
    renderer = text_renderer(settings.timezone)
    hint = renderer.render("ics/booking_hint.txt", number=national(territory.sms_number))
    return feed(
        stop_entries(stops, settings, hint=hint, private=False),
        renderer.render("ics/commune_feed_name.txt", commune=commune.name),
        stamp=territory.created_at, tz=settings.timezone,
    )  # fmt: skip


@router.get("/communes/{insee}/calendar.ics")
def commune_feed(request: Request, insee: str, bus: BusDep, settings: SettingsDep) -> Response:
    found = _commune(bus.uow_factory(), insee)
    if found is None:
        return not_found(request)
    commune, territory = found
    body = commune_calendar(bus.uow_factory(), commune, territory, settings, *feed_window(bus.dependencies["clock"].now()))
    return calendar_response(request, body, filename=f"passages-{commune.insee_code}.ics", private=False)


@router.get("/communes/{insee}", response_class=HTMLResponse)
def commune_page(request: Request, insee: str, bus: BusDep, settings: SettingsDep) -> Response:
    found = _commune(bus.uow_factory(), insee)
    if found is None:
        return not_found(request)
    commune, territory = found
    now = bus.dependencies["clock"].now()
    stops = [s for s in _stops(bus.uow_factory(), commune.insee_code, now, now + timedelta(weeks=FEED_WEEKS)) if s.end_at > now]
    feed_path = f"/communes/{commune.insee_code}/calendar.ics"
    base = settings.base_url
    return templates.TemplateResponse(
        request,
        "commune.html",
        {
            "commune": commune,
            "stops": stops,
            "tz": settings.tz,
            "sms_number": national(territory.sms_number),
            "feed_url": feed_path,
            "webcal_url": "webcal://" + base.split("://", 1)[1] + feed_path,
            "page_url": f"{base}/communes/{commune.insee_code}",
        },
    )


def current_visit(session: Session, visit_id: int) -> t.Visit | None:
    """The published visit a stop link points to, following re-plans; None if gone."""
    visit = session.get(t.Visit, visit_id)
    if visit is None:
        return None
    plan = session.get(t.Plan, visit.plan_id)
    if plan is not None and plan.status == "published":
        return visit if visit.status == "planned" else None
    if plan is None or plan.status != "superseded":
        return None
    origin = visit.ical_origin_id if visit.ical_origin_id is not None else visit.id
    return session.exec(
        select(t.Visit)
        .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
        .where(t.Plan.status == "published", t.Visit.status == "planned")
        .where((col(t.Visit.ical_origin_id) == origin) | (col(t.Visit.id) == origin))
    ).first()


def redirect_to(visit_id: int) -> RedirectResponse:
    return RedirectResponse(f"/passages/{visit_id}", status_code=301)
