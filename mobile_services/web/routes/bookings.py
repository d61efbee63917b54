"""The resident's booking page, its calendar file, cancelling from the page, and taking the
seat held in place of a booking whose stop was cancelled.

The link in the confirmation SMS carries an unguessable token (>= 128 bits) and no
personal data; the token is the only key to the page. Dates are shown with babel in
French, in the territory's time zone.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from babel.dates import format_datetime, format_time
from fastapi import APIRouter, Path as PathParam, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mobile_services.domain.commands import CancelBooking, TakeHeldSeat
from mobile_services.domain.exceptions import UserFacingError
from mobile_services.service_layer.views import BookingView, HeldSeatView, booking_by_token
from mobile_services.web.deps import BusDep, SettingsDep
from mobile_services.web.pages import not_found, templates, text_renderer
from notifications.ical import booking_entry, booking_event

logger = logging.getLogger(__name__)

router = APIRouter()
#: The booking's calendar event reminds its owner this long before (the SMS reminders stay).
BOOKING_ALARM = timedelta(hours=1)
Token = Annotated[str, PathParam(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _when(booking: BookingView | HeldSeatView, tz: object) -> str:
    day = format_datetime(booking.start_at, "EEEE d MMMM y", tzinfo=tz, locale="fr_FR")
    start = format_time(booking.start_at, "HH'h'mm", tzinfo=tz, locale="fr_FR")
    end = format_time(booking.end_at, "HH'h'mm", tzinfo=tz, locale="fr_FR")
    return f"{day[:1].upper()}{day[1:]}, de {start} à {end}"


def _not_found(request: Request) -> HTMLResponse:
    return not_found(request)


@router.get("/r/{token}.ics")
def booking_calendar(request: Request, token: Token, bus: BusDep, settings: SettingsDep) -> Response:
    booking = booking_by_token(bus.uow_factory(), token)
    if booking is None:
        return not_found(request)
    entry = booking_entry(
        booking_id=booking.booking_id, host=settings.public_base_url.host or "localhost",
        start=booking.start_at, end=booking.end_at, service=booking.service_label, site=booking.site_name,
        commune=booking.commune_name, sequence=booking.sequence, cancelled=booking.status != "confirmed",
        bring=", ".join(booking.bring), link=f"{settings.base_url}/r/{token}", last_modified=booking.changed_at,
        alarm_before=BOOKING_ALARM, renderer=text_renderer(settings.timezone),
        geo=(booking.latitude, booking.longitude) if booking.latitude is not None and booking.longitude is not None else None,
    )
    body = booking_event(entry, stamp=bus.dependencies["clock"].now(), tz=settings.timezone)
    return Response(
        body, media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="rendez-vous.ics"', "Cache-Control": "no-store"},
    )


@router.get("/r/{token}", response_class=HTMLResponse)
def booking_page(
    request: Request, token: Token, bus: BusDep, settings: SettingsDep, annule: int = 0, refus: str = ""
) -> HTMLResponse:
    now = bus.dependencies["clock"].now()
    booking = booking_by_token(bus.uow_factory(), token, now)
    if booking is None:
        return _not_found(request)
    cancelled = booking.status != "confirmed"
    held = booking.held_seat
    response = templates.TemplateResponse(
        request,
        "booking.html",
        {
            "booking": booking,
            "when": _when(booking, settings.tz),
            "cancelled": cancelled,
            "just_cancelled": bool(annule) and cancelled,
            "can_cancel": not cancelled and booking.start_at > now,
            "ics_url": f"/r/{token}.ics",
            "cancel_url": f"/r/{token}/annuler",
            "held": held,
            "held_when": _when(held, settings.tz) if held is not None else "",
            "held_until": (
                format_datetime(held.expires_at, "EEEE d MMMM 'à' HH'h'mm", tzinfo=settings.tz, locale="fr_FR")
                if held is not None
                else ""
            ),
            "take_url": f"/r/{token}/place",
            "seat_lost": refus == "place",
        },
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak to other sites
    return response


@router.post("/r/{token}/annuler")
def cancel_from_page(request: Request, token: Token, bus: BusDep) -> Response:
    booking = booking_by_token(bus.uow_factory(), token)
    if booking is None:
        return _not_found(request)
    try:
        bus.handle(CancelBooking(booking_id=booking.booking_id, reason="resident_web"))
    except UserFacingError as refusal:
        logger.info("web cancellation refused: %s", refusal)
    return RedirectResponse(f"/r/{token}?annule=1", status_code=303)


@router.post("/r/{token}/place")
def take_held_seat(request: Request, token: Token, bus: BusDep) -> Response:
    """The cancelled booking's page answers the offer: book the held seat, show the new booking."""
    booking = booking_by_token(bus.uow_factory(), token)
    if booking is None:
        return _not_found(request)
    try:
        confirmation = bus.handle(TakeHeldSeat(cancelled_booking_id=booking.booking_id))
    except UserFacingError as refusal:
        logger.info("held seat not taken: %s", refusal)
        return RedirectResponse(f"/r/{token}?refus=place", status_code=303)
    return RedirectResponse(f"/r/{confirmation.token}", status_code=303)
