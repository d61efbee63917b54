"""A new version of a published week carries bookings along, and tells whoever is affected."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mobile_services.domain import commands
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope

from .test_plan_week import _bus, small_valley  # noqa: F401  (fixture)


def lone_stop_index(engine: Engine, plan_id: int) -> int:
    """Index (by start) of the first stop after the first whose commune has no other stop that week.

    Dropping it leaves its residents nothing in their commune (a full day elsewhere keeps
    its other half), which is what the tests of a lost booking need.
    """
    with Session(engine) as session:
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id).order_by(col(t.Visit.start_at))).all()
        commune_of = {s.id: s.commune_id for s in session.exec(select(t.Site))}
    communes = [commune_of[v.site_id] for v in visits]
    return next(i for i in range(1, len(visits)) if communes.count(communes[i]) == 1 and communes[i] != communes[0])


def _copy_as_draft(engine: Engine, plan_id: int, *, shift_first: timedelta, drop_second: bool, drop: int = 1) -> None:
    """A coordinator's edit: version 2 moves the first stop later and drops stop ``drop`` (the second by default)."""
    with session_scope(engine) as session:
        old = session.get(t.Plan, plan_id)
        assert old is not None
        new = t.Plan(territory_id=old.territory_id, week=old.week, version=old.version + 1, status="draft")
        session.add(new)
        session.flush()
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id).order_by(col(t.Visit.start_at))).all()
        for index, visit in enumerate(visits):
            if drop_second and index == drop:
                continue
            shift = shift_first if index == 0 else timedelta(0)
            session.add(
                t.Visit(
                    plan_id=new.id, site_id=visit.site_id, day=visit.day, half_day=visit.half_day,  # type: ignore[arg-type]
                    start_at=visit.start_at + shift, end_at=visit.end_at + shift, vehicle_id=visit.vehicle_id,
                    crew=visit.crew,
                )
            )


def test_bookings_follow_moved_stops_and_lost_ones_are_told(engine: Engine, small_valley: int) -> None:  # noqa: F811
    bus = _bus(engine)
    outcome = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week="2026-W49"))
    lone = lone_stop_index(engine, outcome.plan_id)
    with Session(engine) as session:
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == outcome.plan_id).order_by(col(t.Visit.start_at))).all()
        first_slot, second_slot = (
            session.exec(
                select(t.Slot).where(t.Slot.visit_id == v.id, t.Slot.walk_in == False).order_by(col(t.Slot.start_at))  # noqa: E712
            ).first()
            for v in (visits[0], visits[lone])
        )
    assert first_slot is not None and second_slot is not None
    moved = bus.handle(commands.BookSlot(phone="+33611111111", slot_id=first_slot.id))
    dropped = bus.handle(commands.BookSlot(phone="+33622222222", slot_id=second_slot.id))

    _copy_as_draft(
        engine, outcome.plan_id, shift_first=timedelta(minutes=30), drop_second=True,
        drop=lone,
    )
    bus.handle(commands.PublishPlan(territory_id=small_valley, week="2026-W49", confirmed=True))

    with Session(engine) as session:
        kept = session.get(t.Booking, moved.booking_id)
        lost = session.get(t.Booking, dropped.booking_id)
        assert kept is not None and lost is not None
        new_slot = session.get(t.Slot, kept.slot_id)
        new_visit = session.get(t.Visit, kept.visit_id)
        plan = session.get(t.Plan, new_visit.plan_id)  # type: ignore[union-attr]
        kinds = {
            (m.booking_id, m.kind): m.status for m in session.exec(select(t.Message))
        }
        waitlist = session.exec(select(t.WaitlistEntry)).all()
        holds = session.exec(select(t.SeatHold)).all()
        cancelled_sms = session.exec(select(t.Message).where(t.Message.booking_id == lost.id, t.Message.kind == "stop_cancelled")).one()
    assert kept.status == "confirmed" and plan is not None and plan.version == 2
    assert abs((new_slot.start_at - first_slot.start_at).total_seconds()) <= 30 * 60  # type: ignore[union-attr]
    assert lost.status == "cancelled"
    assert kinds[(lost.id, "stop_cancelled")] == "pending"
    assert kinds[(lost.id, "reminder_day_before")] == "withdrawn"
    # The stop starts 30 min later, so no new slot starts at the old time: the resident is told.
    assert new_slot.start_at != first_slot.start_at  # type: ignore[union-attr]
    assert kinds[(kept.id, "stop_moved")] == "pending"
    assert any(k == (kept.id, "reminder_day_before") for k in kinds)
    # The valley has other stops that week within reach: a seat is held for the lost booking
    # and offered in the SMS (tests/integration/planning/test_held_seats.py), instead of the
    # waiting list.
    assert [(h.resident_id, h.status) for h in holds] == [(lost.resident_id, "open")]
    assert "Place gardée pour vous" in cancelled_sms.body
    assert waitlist == []
