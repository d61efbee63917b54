"""What the coordinator is told without asking: next week's draft, and what a disruption changed.

A coordinator does not watch a terminal. The weekly draft is planned by itself (a
scheduled job) and an automatic re-planning publishes by itself; in both cases one SMS to
``coordinator_phone`` says what happened and where to look.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.calendar import week_of
from mobile_services.domain.exceptions import UserFacingError
from mobile_services.domain.phones import reachable_mobile
from mobile_services.service_layer.booking import renderer
from mobile_services.service_layer.planning import latest_plan
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)


def _coordinator(settings: Settings) -> str | None:
    phone = reachable_mobile(settings.coordinator_phone)
    if settings.coordinator_phone and phone is None:
        logger.warning("coordinator_phone is not a mobile number: nobody told")
    return phone


def _tell(session: Session, phone: str, kind: str, body: str, key: str, now: datetime) -> None:
    if session.exec(select(t.Message.id).where(t.Message.idempotency_key == key)).first() is not None:
        return
    session.add(t.Message(
        recipient=phone, kind=kind, body=body, idempotency_key=key, due_at=now, expires_at=now + timedelta(days=1),
        created_at=now,
    ))  # fmt: skip


def draft_next_week(command: commands.DraftNextWeek, *, uow: UnitOfWork, bus: object, clock: Clock, settings: Settings) -> int:
    """Plan next week's draft for every territory that has none published yet; tell the coordinator.

    Returns how many drafts were made. A week already published is left alone (re-planning
    it is a coordinator's decision, or a disruption's).
    """
    now = clock.now()
    week = week_of(now.astimezone(settings.tz).date() + timedelta(days=7))
    with uow:
        territories = [
            territory.id for territory in uow.session.exec(select(t.Territory)).all()
            if latest_plan(uow.session, territory.id, week, "published") is None  # type: ignore[arg-type]
        ]  # fmt: skip
    made = 0
    for territory_id in territories:
        try:
            outcome = bus.handle(commands.PlanWeek(territory_id=territory_id, week=week))  # type: ignore[attr-defined]
        except UserFacingError as exc:
            logger.warning("weekly draft of %s for territory %s failed: %s", week, territory_id, exc)
            continue
        made += 1
        phone = _coordinator(settings)
        if phone is None:
            continue
        with uow:
            kpis = outcome.kpis or {}
            visited, with_demand = int(kpis.get("communes_visited", 0)), int(kpis.get("communes_with_demand", 0))
            body = renderer(settings.timezone).render(
                "coordinator_draft", week=week, version=outcome.version, communes=visited,
                people=round(float(kpis.get("demand_served", 0))), left_out=max(0, with_demand - visited),
            )  # fmt: skip
            _tell(uow.session, phone, "coordinator_draft", body, f"coordinator:draft:{outcome.plan_id}", now)
            uow.commit()
    return made


def tell_coordinator_of_replan(event: events.WeekReplanned, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    """One SMS per automatic re-planning: what happened, what it did to bookings, where to read more."""
    phone = _coordinator(settings)
    if phone is None:
        return
    now = clock.now()
    with uow:
        plan = uow.session.get(t.Plan, event.plan_id)
        body = renderer(settings.timezone).render(
            "coordinator_replanned", what=event.what_fr, week=event.week, version=plan.version if plan else 0,
            moved=event.bookings_moved, cancelled=event.bookings_cancelled,
        )  # fmt: skip
        _tell(uow.session, phone, "coordinator_replanned", body, f"coordinator:replan:{event.change_id}", now)
        uow.commit()
