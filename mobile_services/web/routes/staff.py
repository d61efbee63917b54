"""Private pages and feeds of drivers and counsellors, behind revocable tokens.

``/chauffeur/{token}`` and ``/chauffeur/{token}/calendar.ics``: a vehicle's day (its
driver's itinerary: stops in order, addresses, navigation links, the route on a small map,
printable on one A4 page) and its feed. ``/conseiller/{token}`` and its feed: the
counsellor's day, with each booking to mark attended or no-show and the walk-ins of each
stop to record. An unknown, revoked or other kind of token gets the French 404; a
counsellor can only touch the bookings of their own stops.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from mobile_services.domain.commands import RecordAttendance, RecordWalkIns
from mobile_services.domain.exceptions import NotFound, UserFacingError
from mobile_services.domain.phones import mask
from mobile_services.service_layer.access import resolve
from mobile_services.service_layer.booking import DEFAULT_BRING
from mobile_services.service_layer.calendars import StopView, counsellor_stops, vehicle_stops
from mobile_services.storage import tables as t
from mobile_services.web.deps import BusDep, SettingsDep
from mobile_services.web.pages import calendar_response, not_found, templates, text_renderer
from mobile_services.web.routes.communes import feed_window, stop_entries
from mobile_services.web.route_map import route_svg
from notifications.ical import feed

logger = logging.getLogger(__name__)

router = APIRouter()


def _subject(bus, token: str, kind: str):  # type: ignore[no-untyped-def]
    """(access token row, subject row) of a live token of this kind, or None."""
    with bus.uow_factory() as uow:
        row = resolve(uow.session, token, kind)
        if row is None:
            return None
        table = t.Vehicle if kind == "vehicle" else t.Counsellor
        subject = uow.session.get(table, row.subject_id)
        if subject is None or subject.territory_id != row.territory_id:
            return None
        return row, subject


def _day(jour: str | None, now: datetime, tz) -> date:  # type: ignore[no-untyped-def]
    if jour:
        try:
            return date.fromisoformat(jour)
        except ValueError:
            pass
    return now.astimezone(tz).date()


def _day_bounds(day: date, tz) -> tuple[datetime, datetime]:  # type: ignore[no-untyped-def]
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)


def _private_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak to map sites
    return response


def _neighbours(stops: list[StopView], day: date, tz) -> tuple[date | None, date | None]:  # type: ignore[no-untyped-def]
    days = sorted({s.start_at.astimezone(tz).date() for s in stops if not s.cancelled})
    before = [d for d in days if d < day]
    after = [d for d in days if d > day]
    return (before[-1] if before else None), (after[0] if after else None)


# --------------------------------------------------------------------------- feeds


def _private_feed(request: Request, bus, settings, kind: str, token: str) -> Response:  # type: ignore[no-untyped-def]
    found = _subject(bus, token, kind)
    if found is None:
        return not_found(request)
    access, subject = found
    since, until = feed_window(bus.dependencies["clock"].now())
    with bus.uow_factory() as uow:
        if kind == "vehicle":
            stops = vehicle_stops(uow.session, subject.id, since, until)
        else:
            stops = counsellor_stops(uow.session, subject.id, access.territory_id, since, until)
    renderer = text_renderer(settings.timezone)
    body = feed(
        stop_entries(stops, settings, hint=None, private=True),
        renderer.render("ics/private_feed_name.txt", kind=kind, name=subject.name),
        stamp=access.created_at, tz=settings.timezone,
    )  # fmt: skip
    return _private_headers(calendar_response(request, body, filename="tournees.ics", private=True))


@router.get("/chauffeur/{token}/calendar.ics")
def driver_feed(request: Request, token: str, bus: BusDep, settings: SettingsDep) -> Response:
    return _private_feed(request, bus, settings, "vehicle", token)


@router.get("/conseiller/{token}/calendar.ics")
def counsellor_feed(request: Request, token: str, bus: BusDep, settings: SettingsDep) -> Response:
    return _private_feed(request, bus, settings, "counsellor", token)


# --------------------------------------------------------------------------- driver


@router.get("/chauffeur/{token}", response_class=HTMLResponse)
def driver_page(request: Request, token: str, bus: BusDep, settings: SettingsDep, jour: str | None = None) -> Response:
    found = _subject(bus, token, "vehicle")
    if found is None:
        return not_found(request)
    _, vehicle = found
    tz = settings.tz
    now = bus.dependencies["clock"].now()
    day = _day(jour, now, tz)
    start, end = _day_bounds(day, tz)
    with bus.uow_factory() as uow:
        around = vehicle_stops(uow.session, vehicle.id, start - timedelta(days=62), end + timedelta(days=62))
    stops = [s for s in around if start <= s.start_at < end and not s.cancelled]
    cancelled = [s for s in around if start <= s.start_at < end and s.cancelled]
    before, after = _neighbours(around, day, tz)
    depot = (vehicle.depot_latitude, vehicle.depot_longitude)
    legs = [
        {
            "stop": stop,
            "geo": f"geo:{stop.latitude:.6f},{stop.longitude:.6f}?q={stop.latitude:.6f},{stop.longitude:.6f}({quote(stop.site_name)})",
            "osm": f"https://www.openstreetmap.org/?mlat={stop.latitude:.6f}&mlon={stop.longitude:.6f}#map=16/{stop.latitude:.6f}/{stop.longitude:.6f}",
        }
        for stop in stops
    ]
    response = templates.TemplateResponse(
        request,
        "driver.html",
        {
            "vehicle": vehicle, "day": start, "tz": tz, "legs": legs, "cancelled": cancelled,
            "map": route_svg(depot, [(s.latitude, s.longitude) for s in stops]) if stops else "",
            "before": before, "after": after, "token": token,
        },
    )  # fmt: skip
    return _private_headers(response)


# --------------------------------------------------------------------------- counsellor


@router.get("/conseiller/{token}", response_class=HTMLResponse)
def counsellor_page(
    request: Request, token: str, bus: BusDep, settings: SettingsDep, jour: str | None = None, erreur: str = "", ok: str = ""
) -> Response:
    found = _subject(bus, token, "counsellor")
    if found is None:
        return not_found(request)
    access, counsellor = found
    tz = settings.tz
    now = bus.dependencies["clock"].now()
    day = _day(jour, now, tz)
    start, end = _day_bounds(day, tz)
    with bus.uow_factory() as uow:
        session = uow.session
        around = counsellor_stops(session, counsellor.id, access.territory_id, start - timedelta(days=62), end + timedelta(days=62))
        stops = [s for s in around if start <= s.start_at < end and not s.cancelled]
        rows = session.exec(
            select(t.Booking, t.Slot, t.Resident)
            .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
            .join(t.Resident, col(t.Resident.id) == t.Booking.resident_id)
            .where(col(t.Booking.visit_id).in_([s.visit_id for s in stops]), col(t.Booking.status).in_(("confirmed", "attended", "no_show")))
            .order_by(col(t.Slot.start_at), col(t.Booking.id))
        ).all()
        services = {s.id: s for s in session.exec(select(t.Service))}
        walk_ins = {v.id: v.walk_ins for v in session.exec(select(t.Visit).where(col(t.Visit.id).in_([s.visit_id for s in stops])))}
    by_visit: dict[int, list[dict[str, object]]] = {s.visit_id: [] for s in stops}
    for booking, slot, resident in rows:
        service = services.get(booking.service_id) if booking.service_id else None
        by_visit[booking.visit_id].append(
            {
                "id": booking.id, "start": slot.start_at, "end": slot.end_at, "status": booking.status,
                "service": service.label if service else None,
                "documents": list(service.documents) if service and service.documents else DEFAULT_BRING.split(", "),
                "phone": mask(resident.phone), "markable": slot.start_at <= now + timedelta(minutes=30),
            }
        )  # fmt: skip
    before, after = _neighbours(around, day, tz)
    response = templates.TemplateResponse(
        request,
        "counsellor.html",
        {
            "counsellor": counsellor, "day": start, "jour": day.isoformat(), "tz": tz, "stops": stops,
            "bookings": by_visit, "walk_ins": walk_ins, "before": before, "after": after, "token": token,
            "error": erreur, "ok": ok,
        },
    )  # fmt: skip
    return _private_headers(response)


def _back(token: str, jour: str, **flags: str) -> RedirectResponse:
    query = "&".join(f"{k}={quote(v)}" for k, v in flags.items())
    return RedirectResponse(f"/conseiller/{token}?jour={quote(jour)}{'&' + query if query else ''}", status_code=303)


@router.post("/conseiller/{token}/rdv/{booking_id}")
def mark_attendance(
    request: Request, token: str, booking_id: int, bus: BusDep,
    presence: Annotated[str, Form()], jour: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    found = _subject(bus, token, "counsellor")
    if found is None or presence not in ("oui", "non"):
        return not_found(request)
    _, counsellor = found
    try:
        bus.handle(RecordAttendance(counsellor_id=counsellor.id, booking_id=booking_id, attended=presence == "oui"))
    except UserFacingError as refusal:
        if isinstance(refusal, NotFound):
            return not_found(request)
        logger.info("attendance not recorded: %s", refusal)
        return _back(token, jour, erreur="presence")
    return _back(token, jour, ok=f"rdv-{booking_id}")


@router.post("/conseiller/{token}/passages/{visit_id}/sans-rdv")
def record_walk_ins(
    request: Request, token: str, visit_id: int, bus: BusDep,
    nombre: Annotated[str, Form()], jour: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    found = _subject(bus, token, "counsellor")
    if found is None:
        return not_found(request)
    _, counsellor = found
    if not nombre.strip().isdigit():
        return _back(token, jour, erreur="nombre")
    try:
        bus.handle(RecordWalkIns(counsellor_id=counsellor.id, visit_id=visit_id, count=int(nombre.strip())))
    except UserFacingError as refusal:
        if isinstance(refusal, NotFound):
            return not_found(request)
        logger.info("walk-ins not recorded: %s", refusal)
        return _back(token, jour, erreur="nombre")
    return _back(token, jour, ok=f"passage-{visit_id}")
