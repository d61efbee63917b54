"""Reacting to freed seats and new stops: tell the people who were waiting.

Waiting lists must not spam: an entry is offered each new stop of its commune once
(idempotency key per entry and plan / visit), at most ``MAX_OFFERS`` times in all, and a
freed seat is offered to one waiting person at a time, oldest request first.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import events
from mobile_services.service_layer.booking import enqueue, renderer
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

MAX_OFFERS = 3


def _open_entries(session: Session, commune_id: int) -> list[t.WaitlistEntry]:
    return list(
        session.exec(
            select(t.WaitlistEntry)
            .where(
                t.WaitlistEntry.commune_id == commune_id,
                t.WaitlistEntry.status == "open",
                t.WaitlistEntry.notified_count < MAX_OFFERS,
            )
            .order_by(col(t.WaitlistEntry.created_at), col(t.WaitlistEntry.id))
        ).all()
    )


def _offer(session: Session, entry: t.WaitlistEntry, visit: t.Visit, commune: t.Commune, key: str, settings: Settings, now) -> bool:  # type: ignore[no-untyped-def]
    resident = session.get(t.Resident, entry.resident_id)
    if resident is None:
        return False
    message = enqueue(
        session,
        resident=resident,
        kind="waitlist_offer",
        body=renderer(settings.timezone).render("waitlist_offer", commune=commune.name, start=visit.start_at),
        key=key,
        due_at=now,
        now=now,
        expires_at=visit.start_at,
    )
    if message is None:
        return False
    entry.notified_count += 1
    session.add(entry)
    return True


def offer_new_stops(session: Session, *, plan_id: int, now: datetime, settings: Settings) -> int:
    """A plan being published brings stops to communes where people wait: tell each of them once.

    Called inside the publishing transaction (:mod:`publishing`), so the offers are part of
    what a publication shows before it is confirmed, and are rolled back with it.
    """
    rows = session.exec(
        select(t.Visit, t.Commune)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
        .where(t.Visit.plan_id == plan_id, t.Visit.status == "planned", t.Visit.start_at > now)
        .order_by(col(t.Visit.start_at))
    ).all()
    first_visit: dict[int, tuple[t.Visit, t.Commune]] = {}
    for visit, commune in rows:
        first_visit.setdefault(commune.id, (visit, commune))  # type: ignore[arg-type]
    offered = 0
    for visit, commune in first_visit.values():
        for entry in _open_entries(session, commune.id):  # type: ignore[arg-type]
            if _offer(session, entry, visit, commune, f"waitlist:{entry.id}:plan:{plan_id}", settings, now):
                offered += 1
    logger.info("plan %s: %d new-stop offers queued for waiting residents", plan_id, offered)
    return offered


def offer_freed_seat(event: events.BookingCancelled, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    """A cancelled seat goes to the oldest waiting request of that commune, if any."""
    now = clock.now()
    with uow:
        session = uow.session
        visit = session.get(t.Visit, event.visit_id)
        if visit is None or visit.status != "planned" or visit.start_at <= now:
            return
        plan = session.get(t.Plan, visit.plan_id)
        if plan is None or plan.status != "published":
            return  # a seat freed by a new version of the week: that stop is no longer offered
        site = session.get(t.Site, visit.site_id)
        commune = session.get(t.Commune, site.commune_id) if site else None
        if commune is None:
            return
        for entry in _open_entries(session, commune.id):  # type: ignore[arg-type]
            if entry.resident_id == event.resident_id:
                continue
            if _offer(session, entry, visit, commune, f"waitlist:{entry.id}:freed:{event.booking_id}", settings, now):
                break
        uow.commit()
