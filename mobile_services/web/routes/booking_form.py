"""The stop page, and booking online with a one-time SMS code.

``/passages/{visit_id}``: free slots by service and the booking form (slot, service,
phone). Submitting it asks for a code by SMS (:class:`RequestWebCode`: a French mobile,
rate-limited per phone and per address, the seat still free) and leads to
``/code/{challenge}``; the right code books with :class:`BookSlot`, channel "web": the same
command and rules as by SMS (capacity, cut-off, one live booking per stop, confirmation and
reminders by SMS), then shows the booking page. A seat taken meanwhile brings the stop page
back with a clear message and no booking. ``/communes/{insee}/attente`` joins the
commune's waiting list the same way (:class:`JoinWaitlist`).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from config import Settings
from mobile_services.domain.commands import BookSlot, JoinWaitlist, RequestWebCode, VerifyWebCode
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.domain.phones import mask
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.views import stop_offer
from mobile_services.service_layer.web_codes import MAX_ATTEMPTS, WebCodeRefused, pending
from mobile_services.storage import tables as t
from mobile_services.web.deps import BusDep, SettingsDep
from mobile_services.web.pages import not_found, templates

logger = logging.getLogger(__name__)

router = APIRouter()

#: BookSlot refusals (booking.refused codes) -> messages of templates/_errors.html
_REFUSALS = {
    "slot_full": "pris",
    "too_late": "tard",
    "already_booked": "deja",
    "service_not_offered": "service",
    "not_bookable": "indisponible",
    "opted_out": "stop",
}


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def render_stop_page(
    request: Request, visit_id: int, bus: MessageBus, settings: Settings, error: str = "", phone: str = ""
) -> Response:
    from mobile_services.web.routes.communes import current_visit, redirect_to

    now = bus.dependencies["clock"].now()
    with bus.uow_factory() as uow:
        visit = current_visit(uow.session, visit_id)
        if visit is None or visit.end_at <= now:
            return not_found(request)
        if visit.id != visit_id:
            return redirect_to(visit.id)  # type: ignore[arg-type]
        offer = stop_offer(uow.session, visit, now, settings.booking_cutoff_minutes)
    response = templates.TemplateResponse(
        request, "stop.html", {"stop": offer, "tz": settings.tz, "error": error, "phone": phone},
        status_code=409 if error == "pris" else 400 if error else 200,
    )  # fmt: skip
    return _private(response) if error else response


@router.get("/passages/{visit_id}", response_class=HTMLResponse)
def stop_page(request: Request, visit_id: int, bus: BusDep, settings: SettingsDep, erreur: str = "") -> Response:
    return render_stop_page(request, visit_id, bus, settings, error=erreur if erreur in _REFUSALS.values() else "")


@router.post("/passages/{visit_id}/reserver")
def ask_code_for_booking(
    request: Request, visit_id: int, bus: BusDep, settings: SettingsDep,
    telephone: Annotated[str, Form(max_length=40)] = "", creneau: Annotated[str, Form(max_length=20)] = "",
    service: Annotated[str, Form(max_length=20)] = "",
) -> Response:  # fmt: skip
    with bus.uow_factory() as uow:
        slot = uow.session.get(t.Slot, int(creneau)) if creneau.isdigit() else None
        if slot is not None and slot.visit_id != visit_id:
            slot = None
        chosen_service = uow.session.get(t.Service, int(service)) if service.isdigit() else None
    if slot is None:
        return render_stop_page(request, visit_id, bus, settings, error="creneau", phone=telephone)
    service_id = slot.service_id if slot.service_id is not None else (chosen_service.id if chosen_service else None)
    try:
        challenge = bus.handle(
            RequestWebCode(phone=telephone, purpose="booking", client=_client(request), slot_id=slot.id, service_id=service_id)
        )
    except WebCodeRefused as refusal:
        return render_stop_page(request, visit_id, bus, settings, error=refusal.code, phone=telephone)
    return RedirectResponse(f"/code/{challenge}", status_code=303)


def _code_page(request: Request, bus: MessageBus, challenge: str, error: str = "") -> Response:
    now = bus.dependencies["clock"].now()
    with bus.uow_factory() as uow:
        row = pending(uow.session, challenge, now)
        if row is None and not error:
            return not_found(request)
        if row is None:
            from sqlmodel import select

            row = uow.session.exec(select(t.WebCode).where(t.WebCode.challenge == challenge)).first()
            if row is None:
                return not_found(request)
        back = _back_url(uow.session, row)
        context = {
            "challenge": challenge, "phone": mask(row.phone), "purpose": row.purpose, "error": error,
            "tries_left": max(0, MAX_ATTEMPTS - row.attempts), "back_url": back,
            "can_answer": pending(uow.session, challenge, now) is not None,
        }  # fmt: skip
    status = 400 if error else 200
    return _private(templates.TemplateResponse(request, "code.html", context, status_code=status))


def _back_url(session, row: t.WebCode) -> str:  # type: ignore[no-untyped-def]
    if row.purpose == "booking" and row.slot_id is not None:
        slot = session.get(t.Slot, row.slot_id)
        return f"/passages/{slot.visit_id}" if slot is not None else "/"
    commune = session.get(t.Commune, row.commune_id) if row.commune_id is not None else None
    return f"/communes/{commune.insee_code}/attente" if commune is not None else "/"


@router.get("/code/{challenge}", response_class=HTMLResponse)
def code_page(request: Request, challenge: str, bus: BusDep) -> Response:
    return _code_page(request, bus, challenge)


@router.post("/code/{challenge}")
def check_code(request: Request, challenge: str, bus: BusDep, settings: SettingsDep, code: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        verified = bus.handle(VerifyWebCode(challenge=challenge, code=code))
    except WebCodeRefused as refusal:
        return _code_page(request, bus, challenge, error=refusal.code)
    if verified.purpose == "waitlist":
        bus.handle(JoinWaitlist(phone=verified.phone, commune_id=verified.commune_id, service_id=verified.service_id))
        with bus.uow_factory() as uow:
            commune = uow.session.get(t.Commune, verified.commune_id)
        return RedirectResponse(f"/communes/{commune.insee_code}/attente?inscrit=1", status_code=303)  # type: ignore[union-attr]
    try:
        confirmation = bus.handle(
            BookSlot(phone=verified.phone, slot_id=verified.slot_id, service_id=verified.service_id, channel="web")  # type: ignore[arg-type]
        )
    except BookingRefused as refusal:
        reason = _REFUSALS.get(getattr(refusal, "code", ""), "indisponible")
        logger.info("web booking refused: %s", refusal)
        with bus.uow_factory() as uow:
            slot = uow.session.get(t.Slot, verified.slot_id)
        return render_stop_page(request, slot.visit_id, bus, settings, error=reason)  # type: ignore[union-attr]
    return RedirectResponse(f"/r/{confirmation.token}", status_code=303)


# --------------------------------------------------------------------------- waiting list


def _commune(bus: MessageBus, insee: str) -> t.Commune | None:
    from mobile_services.web.routes.communes import _commune as find

    found = find(bus.uow_factory(), insee)
    return found[0] if found is not None else None


@router.get("/communes/{insee}/attente", response_class=HTMLResponse)
def waitlist_page(request: Request, insee: str, bus: BusDep, inscrit: int = 0) -> Response:
    commune = _commune(bus, insee)
    if commune is None:
        return not_found(request)
    return templates.TemplateResponse(request, "waitlist.html", {"commune": commune, "done": bool(inscrit), "error": "", "phone": ""})


@router.post("/communes/{insee}/attente")
def ask_code_for_waitlist(request: Request, insee: str, bus: BusDep, telephone: Annotated[str, Form(max_length=40)] = "") -> Response:
    commune = _commune(bus, insee)
    if commune is None:
        return not_found(request)
    try:
        challenge = bus.handle(RequestWebCode(phone=telephone, purpose="waitlist", client=_client(request), commune_id=commune.id))
    except WebCodeRefused as refusal:
        context = {"commune": commune, "done": False, "error": refusal.code, "phone": telephone}
        return templates.TemplateResponse(request, "waitlist.html", context, status_code=400)
    return RedirectResponse(f"/code/{challenge}", status_code=303)
