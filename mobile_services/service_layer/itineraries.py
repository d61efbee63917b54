"""The morning SMS: each driver and counsellor with a day gets its link, once.

At 06:00 (Paris) the people on the road need where to go and who is coming, on a basic
phone: one SMS with the number of stops, the first one's time and the link to their
private page (printable itinerary, map, bookings). The idempotency key is the person and
the day, so a scheduler that restarts, or runs the job late after downtime, never sends
two; a day whose first stop has begun gets none.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands
from mobile_services.domain.phones import reachable_mobile
from mobile_services.service_layer.access import link_for, private_url
from mobile_services.service_layer.booking import renderer
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

#: the outbox kind of the morning SMS (sent in the quiet hours too: crews leave early)
KIND = "day_itinerary"


def send_day_itineraries(command: commands.SendDayItineraries, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    """Queue today's SMS for every driver and counsellor with stops; returns how many were queued."""
    now = clock.now()
    today = now.astimezone(settings.tz).date()
    queued = 0
    with uow:
        session = uow.session
        visits = session.exec(
            select(t.Visit, t.Plan.territory_id)
            .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
            .where(t.Plan.status == "published", t.Visit.status == "planned", t.Visit.day == today)
            .order_by(col(t.Visit.start_at))
        ).all()
        by_subject: dict[tuple[str, int], list[t.Visit]] = defaultdict(list)
        territory_of: dict[tuple[str, int], int] = {}
        for visit, territory_id in visits:
            for key in [("vehicle", visit.vehicle_id)] + [("counsellor", c) for c in visit.crew]:
                by_subject[key].append(visit)
                territory_of[key] = territory_id
        for (kind, subject_id), stops in sorted(by_subject.items()):
            if stops[0].start_at <= now:
                continue  # the day has begun: too late to be useful
            for phone in _phones(session, kind, subject_id):
                link = private_url(
                    settings.base_url, kind,
                    link_for(session, territory_id=territory_of[(kind, subject_id)], kind=kind, subject_id=subject_id, now=now),
                )  # fmt: skip
                if _queue(session, phone, kind, subject_id, today, stops, link, now, settings):
                    queued += 1
        uow.commit()
    if queued:
        logger.info("%d morning itineraries queued for %s", queued, today.isoformat())
    return queued


def _phones(session: Session, kind: str, subject_id: int) -> list[str]:
    """Who reads this day: a vehicle's drivers, or the counsellor."""
    if kind == "vehicle":
        raw = [d.phone for d in session.exec(select(t.Driver).where(t.Driver.vehicle_id == subject_id, t.Driver.active == True))]  # noqa: E712
    else:
        counsellor = session.get(t.Counsellor, subject_id)
        raw = [counsellor.phone] if counsellor is not None else []
    return [phone for phone in (reachable_mobile(p) for p in raw) if phone is not None]


def _queue(
    session: Session, phone: str, kind: str, subject_id: int, day: date, stops: list[t.Visit], link: str, now: datetime,
    settings: Settings,
) -> bool:
    key = f"itinerary:{kind}:{subject_id}:{day.isoformat()}:{phone}"
    if session.exec(select(t.Message.id).where(t.Message.idempotency_key == key)).first() is not None:
        return False
    body = renderer(settings.timezone).render(
        "driver_itinerary", day=day, stops=len(stops), first_start=stops[0].start_at, link=link
    )
    session.add(t.Message(
        recipient=phone, kind=KIND, body=body, idempotency_key=key, due_at=now, expires_at=stops[0].start_at,
        created_at=now,
    ))  # fmt: skip
    return True
