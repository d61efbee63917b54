"""Stops of a superseded version of a week are never offered again, by any path.

Their rows stay as they were (``planned``: the week's history), so every path that offers
a stop must look at its plan: free slots, new-stop and freed-seat offers to the waiting
list, booking. A waiting resident was once told "un passage est prévu" about a stop the
new version had just cancelled.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.exceptions import UserFacingError
from mobile_services.service_layer import booking
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope

from .test_plan_week import NOW, _bus, small_valley  # noqa: F401  (fixture)

WEEK = "2026-W49"


def _draft_without(engine: Engine, plan_id: int, dropped_visit: int) -> int:
    """The coordinator's version 2: the same stops but one."""
    with session_scope(engine) as session:
        old = session.get(t.Plan, plan_id)
        assert old is not None
        new = t.Plan(territory_id=old.territory_id, week=old.week, version=old.version + 1, status="draft")
        session.add(new)
        session.flush()
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id)).all():
            if visit.id != dropped_visit:
                session.add(t.Visit(
                    plan_id=new.id, site_id=visit.site_id, day=visit.day, half_day=visit.half_day,  # type: ignore[arg-type]
                    start_at=visit.start_at, end_at=visit.end_at, vehicle_id=visit.vehicle_id, crew=visit.crew,
                ))  # fmt: skip
        return new.id  # type: ignore[return-value]


def test_a_superseded_versions_stops_are_offered_nowhere(engine: Engine, small_valley: int) -> None:  # noqa: F811
    bus = _bus(engine)
    first = bus.handle(commands.PlanWeek(territory_id=small_valley, week=WEEK, time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week=WEEK))
    with session_scope(engine) as session:
        old_visit = session.exec(select(t.Visit).where(t.Visit.plan_id == first.plan_id).order_by(col(t.Visit.start_at))).first()
        assert old_visit is not None
        commune_id = session.get(t.Site, old_visit.site_id).commune_id  # type: ignore[union-attr]
        old_slot = session.exec(select(t.Slot).where(t.Slot.visit_id == old_visit.id, t.Slot.walk_in == False)).first()  # noqa: E712
        assert old_slot is not None
    # someone booked on v1 and cancels later; someone waits in that commune
    kept = bus.handle(commands.BookSlot(phone="+33611111111", slot_id=old_slot.id))
    bus.handle(commands.JoinWaitlist(phone="+33622222222", commune_id=commune_id))
    second = _draft_without(engine, first.plan_id, old_visit.id)  # type: ignore[arg-type]
    bus.handle(commands.PublishPlan(territory_id=small_valley, week=WEEK, confirmed=True))

    with Session(engine) as session:
        assert session.get(t.Plan, first.plan_id).status == "superseded"  # type: ignore[union-attr]
        assert session.get(t.Plan, second).status == "published"  # type: ignore[union-attr]
        offered = booking.free_slots(session, commune_id=commune_id, now=NOW, settings=Settings(), limit=50)
        old_slots = set(session.exec(select(t.Slot.id).join(t.Visit).where(t.Visit.plan_id == first.plan_id)).all())
        assert offered and not {s.slot_id for s in offered} & old_slots
        offers_before = session.exec(select(t.Message).where(t.Message.kind == "waitlist_offer")).all()

    # a freed seat of the old version is offered to nobody
    bus.handle(
        events.BookingCancelled(booking_id=kept.booking_id, slot_id=old_slot.id, visit_id=old_visit.id,  # type: ignore[arg-type]
                                resident_id=1, reason="resident")
    )
    with Session(engine) as session:
        assert len(session.exec(select(t.Message).where(t.Message.kind == "waitlist_offer")).all()) == len(offers_before)
    # and it cannot be booked
    try:
        bus.handle(commands.BookSlot(phone="+33633333333", slot_id=old_slot.id))
    except UserFacingError:
        pass
    else:
        raise AssertionError("a slot of a superseded version was booked")
