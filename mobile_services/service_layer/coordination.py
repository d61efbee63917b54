"""What the coordinator is told without asking: next week's draft, what a disruption changed,
and demand building up where no stop is planned.

A coordinator does not watch a terminal. The weekly draft is planned by itself (a
scheduled job) and an automatic re-planning publishes by itself; in both cases one SMS to
``coordinator_phone`` says what happened and where to look. A waiting list that grows in a
commune with no stop ahead is a decision only the coordinator can take (re-plan now, or
let the next plan count it): they are told once per commune and week.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

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


def tell_coordinator_of_waiting_demand(event: events.JoinedWaitlist, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    """One SMS when a commune's open requests reach ``waitlist_alert_threshold`` and no stop is planned there ahead.

    Why: the planner counts open requests as demand, but only when the next week is planned;
    five people asking in a commune off the plan on a Monday need a decision this week
    (``mobile-services incident demand`` re-plans the days left). Once per commune and ISO
    week (the idempotency key), so later requests that week add nothing; never while a
    published stop is coming there (its waiting residents hear of it).
    """
    threshold = settings.waitlist_alert_threshold
    phone = _coordinator(settings) if threshold > 0 else None
    if phone is None:
        return
    now = clock.now()
    with uow:
        session = uow.session
        commune = session.get(t.Commune, event.commune_id)
        waiting = session.exec(
            select(func.count()).select_from(t.WaitlistEntry).where(
                t.WaitlistEntry.commune_id == event.commune_id, t.WaitlistEntry.status == "open"
            )
        ).one()
        if commune is None or waiting < threshold:
            return
        ahead = session.exec(
            select(t.Visit.id)
            .join(t.Site, col(t.Site.id) == t.Visit.site_id)
            .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
            .where(
                t.Site.commune_id == commune.id, t.Plan.status == "published", t.Visit.status == "planned",
                t.Visit.start_at > now,
            )
        ).first()  # fmt: skip
        if ahead is not None:
            return
        week = week_of(now.astimezone(settings.tz).date())
        body = renderer(settings.timezone).render("coordinator_waitlist", waiting=waiting, commune=commune.name)
        _tell(session, phone, "coordinator_waitlist", body, f"coordinator:waitlist:{commune.id}:{week}", now)
        uow.commit()
    logger.info("commune %s: %d requests waiting with no stop ahead, coordinator told", event.commune_id, waiting)
