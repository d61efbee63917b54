"""A booking lost to a re-planned week comes with a seat held nearby: OUI books it, NON frees it.

The re-plan here drops every stop of one commune (the bus broke down there) and adds a
stop at the same time in the nearest other commune; the resident who had booked the
dropped stop must be offered the seat at the same time there, and nobody else may take it
while they think it over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.service_layer.booking import renderer
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

from .test_plan_week import NOW, _bus, small_valley  # noqa: F401  (fixture)

LOST_PHONE = "+33622222222"


@dataclass(frozen=True)
class Replanned:
    lost_booking_id: int
    lost_start_iso: str
    new_commune_id: int


def _km(a: t.Commune, b: t.Commune) -> float:
    dlat = math.radians(b.latitude - a.latitude)
    dlon = math.radians(b.longitude - a.longitude) * math.cos(math.radians(a.latitude))
    return 6371 * math.hypot(dlat, dlon)


def _replan_without_a_commune(
    engine: Engine, territory_id: int, *, opt_out: bool = False, also_lose: bool = False
) -> Replanned:
    """Publish week 49, book the second stop, then publish a version without its commune.

    ``also_lose``: the resident also booked a stop of a third commune, which goes too.
    """
    bus = _bus(engine)
    first = bus.handle(commands.PlanWeek(territory_id=territory_id, week="2026-W49", time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=territory_id, week="2026-W49"))
    with Session(engine) as session:
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == first.plan_id).order_by(col(t.Visit.start_at))).all()
        dropped = visits[1]
        slot = session.exec(
            select(t.Slot).where(t.Slot.visit_id == dropped.id, t.Slot.walk_in == False).order_by(col(t.Slot.start_at))  # noqa: E712
        ).first()
        assert slot is not None
        lost_commune = session.get(t.Commune, session.get(t.Site, dropped.site_id).commune_id)  # type: ignore[union-attr]
        assert lost_commune is not None
        others = [c for c in session.exec(select(t.Commune)) if c.id != lost_commune.id]
        nearest = min(others, key=lambda c: _km(lost_commune, c))
        assert _km(lost_commune, nearest) <= 12, "the test valley needs a commune within the offer radius"
        site = session.exec(select(t.Site).where(t.Site.commune_id == nearest.id)).first()
        assert site is not None
        ids = (slot.id, slot.start_at.isoformat(), nearest.id, site.id)
        gone = {lost_commune.id}
        second_slot = None
        if also_lose:
            communes = {v.id: session.get(t.Site, v.site_id).commune_id for v in visits}  # type: ignore[union-attr]
            other = next(v for v in visits if communes[v.id] not in (lost_commune.id, nearest.id))
            gone.add(communes[other.id])
            second_slot = session.exec(
                select(t.Slot).where(t.Slot.visit_id == other.id, t.Slot.walk_in == False)  # noqa: E712
            ).first()
            assert second_slot is not None
    booked = bus.handle(commands.BookSlot(phone=LOST_PHONE, slot_id=ids[0]))
    if second_slot is not None:
        bus.handle(commands.BookSlot(phone=LOST_PHONE, slot_id=second_slot.id))
    if opt_out:
        _sms(bus, "ARRET", "SM" + "9" * 32)

    with session_scope(engine) as session:
        new = t.Plan(territory_id=territory_id, week="2026-W49", version=2, status="draft")
        session.add(new)
        session.flush()
        sites = {s.id: s for s in session.exec(select(t.Site))}
        communes = {c.id: c for c in session.exec(select(t.Commune))}
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == first.plan_id)):
            if sites[visit.site_id].commune_id in gone:
                continue  # the breakdown: every stop of that commune goes
            commune = communes[sites[visit.site_id].commune_id]
            if (
                commune.id != ids[2]
                and visit.start_at < dropped.end_at
                and visit.end_at > dropped.start_at
                and _km(lost_commune, commune) <= 12
            ):
                continue  # the next village is the one nearby at that time (full days elsewhere would tie)
            session.add(t.Visit(
                plan_id=new.id, site_id=visit.site_id, day=visit.day, half_day=visit.half_day,  # type: ignore[arg-type]
                start_at=visit.start_at, end_at=visit.end_at, vehicle_id=visit.vehicle_id, crew=visit.crew,
            ))  # fmt: skip
        session.add(t.Visit(
            plan_id=new.id, site_id=ids[3], day=dropped.day, half_day=dropped.half_day,  # type: ignore[arg-type]
            start_at=dropped.start_at, end_at=dropped.end_at, vehicle_id=dropped.vehicle_id, crew=dropped.crew,
        ))  # fmt: skip
    bus.handle(commands.PublishPlan(territory_id=territory_id, week="2026-W49", confirmed=True))
    return Replanned(booked.booking_id, ids[1], ids[2])


def _hold(engine: Engine) -> t.SeatHold:
    with Session(engine) as session:
        holds = session.exec(select(t.SeatHold)).all()
    assert len(holds) == 1
    return holds[0]


def _book_until_full(bus, slot_id: int) -> int:  # type: ignore[no-untyped-def]
    """Other residents book the slot until it refuses; how many got in."""
    for k in range(20):
        try:
            bus.handle(commands.BookSlot(phone=f"+3361234{k:04d}", slot_id=slot_id))
        except BookingRefused as refusal:
            assert refusal.code == "slot_full"
            return k
    raise AssertionError("the slot never filled")


def _sms(bus, body: str, sid: str):  # type: ignore[no-untyped-def]
    return bus.handle(commands.ReceiveSms(message_sid=sid, from_number=LOST_PHONE, body=body))


def test_the_lost_booking_gets_the_same_time_nearby_held_and_oui_books_it(engine: Engine, small_valley: int) -> None:  # noqa: F811
    replanned = _replan_without_a_commune(engine, small_valley)
    hold = _hold(engine)
    with Session(engine) as session:
        lost = session.get(t.Booking, replanned.lost_booking_id)
        slot = session.get(t.Slot, hold.slot_id)
        commune = session.get(t.Commune, session.get(t.Site, session.get(t.Visit, slot.visit_id).site_id).commune_id)  # type: ignore[union-attr]
        message = session.exec(select(t.Message).where(t.Message.booking_id == lost.id, t.Message.kind == "stop_cancelled")).one()  # type: ignore[union-attr]
        conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == LOST_PHONE)).one()
        waitlisted = session.exec(select(t.WaitlistEntry).where(t.WaitlistEntry.resident_id == lost.resident_id)).all()  # type: ignore[union-attr]
    assert lost is not None and lost.status == "cancelled"
    assert hold.status == "open" and hold.resident_id == lost.resident_id and hold.cancelled_booking_id == lost.id
    assert slot is not None and slot.start_at.isoformat() == replanned.lost_start_iso  # same time, next village
    assert commune is not None and commune.id == replanned.new_commune_id
    assert hold.expires_at == NOW + timedelta(hours=Settings().seat_hold_hours)
    expected = renderer(Settings().timezone).render(
        "stop_cancelled", old_start=datetime.fromisoformat(replanned.lost_start_iso), commune="",
        offer_start=slot.start_at, offer_commune=commune.name, hold_until=hold.expires_at,
    )  # fmt: skip
    assert message.body == expected and "Place gardée pour vous" in expected
    assert conversation.state == "confirming" and conversation.context["hold_id"] == hold.id
    assert not waitlisted, "an offer replaces the waiting list"

    # While the resident thinks it over, nobody else gets the held seat.
    bus = _bus(engine)
    assert _book_until_full(bus, hold.slot_id) == slot.capacity - 1

    reply = _sms(bus, "oui", "SM" + "1" * 32)
    assert reply.messages == ()  # the booking service queues the confirmation
    with Session(engine) as session:
        booking = session.exec(
            select(t.Booking).where(t.Booking.resident_id == hold.resident_id, t.Booking.status == "confirmed")
        ).one()
        kept = session.get(t.SeatHold, hold.id)
        kinds = {m.kind for m in session.exec(select(t.Message).where(t.Message.booking_id == booking.id))}
        conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == LOST_PHONE)).one()
    assert (booking.slot_id, booking.seat) == (hold.slot_id, hold.seat)
    assert kept is not None and kept.status == "taken"
    assert "confirmation" in kinds
    assert conversation.state == "idle"


def test_non_frees_the_held_seat_and_offers_other_slots(engine: Engine, small_valley: int) -> None:  # noqa: F811
    _replan_without_a_commune(engine, small_valley)
    hold = _hold(engine)
    bus = _bus(engine)

    reply = _sms(bus, "non", "SM" + "2" * 32)

    assert reply.messages and "1)" in reply.messages[0]  # a fresh list of slots near home
    with Session(engine) as session:
        released = session.get(t.SeatHold, hold.id)
        slot = session.get(t.Slot, hold.slot_id)
    assert released is not None and released.status == "declined"
    assert slot is not None
    assert _book_until_full(bus, hold.slot_id) == slot.capacity  # every seat is free for others again


def test_an_unanswered_hold_expires_without_any_job(engine: Engine, small_valley: int) -> None:  # noqa: F811
    _replan_without_a_commune(engine, small_valley)
    hold = _hold(engine)
    later = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=FixedClock(hold.expires_at + timedelta(minutes=1)))
    with Session(engine) as session:
        slot = session.get(t.Slot, hold.slot_id)
    assert slot is not None

    assert _book_until_full(later, hold.slot_id) == slot.capacity

    reply = later.handle(commands.ReceiveSms(message_sid="SM" + "3" * 32, from_number=LOST_PHONE, body="OUI"))
    assert reply.messages and "abandonnée" in reply.messages[0]  # told the offer lapsed, nothing booked
    with Session(engine) as session:
        live = session.exec(
            select(t.Booking).where(t.Booking.resident_id == hold.resident_id, t.Booking.status == "confirmed")
        ).all()
    assert live == []


def test_a_resident_who_opted_out_gets_no_hold(engine: Engine, small_valley: int) -> None:  # noqa: F811
    # ARRET after booking: the booking is still cancelled with the stop, but no seat is
    # kept for someone we may not write to; nothing is offered.
    replanned = _replan_without_a_commune(engine, small_valley, opt_out=True)
    with Session(engine) as session:
        lost = session.get(t.Booking, replanned.lost_booking_id)
        holds = session.exec(select(t.SeatHold)).all()
    assert lost is not None and lost.status == "cancelled"
    assert holds == []


def test_one_offer_per_resident_when_a_replan_takes_two_of_their_bookings(engine: Engine, small_valley: int) -> None:  # noqa: F811
    # A single OUI must say which seat it takes: the first lost booking gets the held seat,
    # the second is told plainly and its commune's waiting list takes the resident.
    _replan_without_a_commune(engine, small_valley, also_lose=True)
    with Session(engine) as session:
        resident = session.exec(select(t.Resident).where(t.Resident.phone == LOST_PHONE)).one()
        cancelled = session.exec(
            select(t.Booking).where(t.Booking.resident_id == resident.id, t.Booking.status == "cancelled")
        ).all()
        bodies = [
            session.exec(select(t.Message).where(t.Message.booking_id == b.id, t.Message.kind == "stop_cancelled")).one().body
            for b in cancelled
        ]
        holds = session.exec(select(t.SeatHold).where(t.SeatHold.resident_id == resident.id)).all()
        waitlisted = session.exec(select(t.WaitlistEntry).where(t.WaitlistEntry.resident_id == resident.id)).all()
    assert len(cancelled) == 2
    assert len(holds) == 1
    assert sorted("Place gardée" in body for body in bodies) == [False, True]
    assert len(waitlisted) == 1


# --------------------------------------------------------------------------- a second re-plan


def _republish(engine: Engine, territory_id: int, change) -> None:  # type: ignore[no-untyped-def]
    """Publish the next version of week 49: the published visits, each through ``change``.

    ``change(visit, commune_id)`` returns None to drop the stop, or a timedelta to shift it.
    """
    with session_scope(engine) as session:
        current = session.exec(
            select(t.Plan).where(t.Plan.territory_id == territory_id, t.Plan.status == "published")
        ).one()
        new = t.Plan(territory_id=territory_id, week="2026-W49", version=current.version + 1, status="draft")
        session.add(new)
        session.flush()
        sites = {s.id: s for s in session.exec(select(t.Site))}
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == current.id)):
            shift = change(visit, sites[visit.site_id].commune_id)
            if shift is None:
                continue
            session.add(t.Visit(
                plan_id=new.id, site_id=visit.site_id, day=visit.day, half_day=visit.half_day,  # type: ignore[arg-type]
                start_at=visit.start_at + shift, end_at=visit.end_at + shift, vehicle_id=visit.vehicle_id,
                crew=visit.crew,
            ))  # fmt: skip
    _bus(engine).handle(commands.PublishPlan(territory_id=territory_id, week="2026-W49", confirmed=True))


def _offer(engine: Engine, hold_id: int) -> tuple[t.SeatHold, t.Slot, t.Plan, dict, list[t.Message]]:  # type: ignore[type-arg]
    with Session(engine) as session:
        hold = session.get(t.SeatHold, hold_id)
        assert hold is not None
        slot = session.get(t.Slot, hold.slot_id)
        assert slot is not None
        plan = session.get(t.Plan, session.get(t.Visit, slot.visit_id).plan_id)  # type: ignore[union-attr]
        conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == LOST_PHONE)).one()
        messages = session.exec(
            select(t.Message).where(col(t.Message.kind).in_(["hold_moved", "hold_withdrawn"]))
        ).all()
    assert plan is not None
    return hold, slot, plan, {"state": conversation.state, **conversation.context}, list(messages)


def test_a_later_replan_that_keeps_the_offered_stop_keeps_the_offer_as_it_was(engine: Engine, small_valley: int) -> None:  # noqa: F811
    # Every slot is replaced by a new version of the week, the held one included: the hold
    # follows to the same time at the same place, the deadline the resident read stays,
    # nothing new is sent, and OUI books the new slot.
    _replan_without_a_commune(engine, small_valley)
    before = _hold(engine)
    _, old_slot, _, _, _ = _offer(engine, before.id)  # type: ignore[arg-type]

    _republish(engine, small_valley, lambda visit, commune: timedelta(0))

    hold, slot, plan, conversation, told = _offer(engine, before.id)  # type: ignore[arg-type]
    assert plan.status == "published" and plan.version == 3
    assert hold.status == "open" and slot.id != old_slot.id
    assert (slot.start_at, hold.expires_at) == (old_slot.start_at, before.expires_at)
    assert told == []
    assert conversation["state"] == "confirming" and conversation["hold_id"] == hold.id
    assert conversation["chosen"]["slot_id"] == slot.id

    _sms(_bus(engine), "OUI", "SM" + "4" * 32)
    with Session(engine) as session:
        booking = session.exec(
            select(t.Booking).where(t.Booking.resident_id == hold.resident_id, t.Booking.status == "confirmed")
        ).one()
        assert session.get(t.SeatHold, hold.id).status == "taken"  # type: ignore[union-attr]
    assert (booking.slot_id, booking.seat) == (slot.id, hold.seat)


def test_a_later_replan_that_moves_the_offered_stop_holds_the_new_time_and_says_so(engine: Engine, small_valley: int) -> None:  # noqa: F811
    replanned = _replan_without_a_commune(engine, small_valley)
    before = _hold(engine)
    _, old_slot, _, _, _ = _offer(engine, before.id)  # type: ignore[arg-type]
    # 70 min, not a multiple of the 30-min slots: no slot of the moved stops can fall back on
    # the offered time (an hour would, when the stop started half an hour earlier)
    later = timedelta(minutes=70)

    _republish(engine, small_valley, lambda visit, commune: later if commune == replanned.new_commune_id else timedelta(0))

    hold, slot, _, conversation, told = _offer(engine, before.id)  # type: ignore[arg-type]
    with Session(engine) as session:
        commune = session.get(t.Commune, session.get(t.Site, session.get(t.Visit, slot.visit_id).site_id).commune_id)  # type: ignore[union-attr]
    assert commune is not None
    assert hold.status == "open"
    # The offered time is gone; the new seat is the best left (an hour later there at worst).
    assert (commune.id, slot.start_at) != (replanned.new_commune_id, old_slot.start_at)
    assert abs(slot.start_at - old_slot.start_at) <= later
    assert hold.expires_at == NOW + timedelta(hours=Settings().seat_hold_hours)
    expected = renderer(Settings().timezone).render(
        "hold_moved", offer_start=slot.start_at, offer_commune=commune.name, hold_until=hold.expires_at
    )
    assert [(m.kind, m.body) for m in told] == [("hold_moved", expected)]
    assert conversation["state"] == "confirming" and conversation["chosen"]["slot_id"] == slot.id
    with Session(engine) as session:
        lost = session.get(t.Booking, replanned.lost_booking_id)
        home = session.get(t.Site, session.get(t.Visit, lost.visit_id).site_id).commune_id  # type: ignore[union-attr]
    assert conversation["commune_id"] == home != commune.id  # NON lists slots near home, not near the offer

    bus = _bus(engine)
    assert _book_until_full(bus, slot.id) == slot.capacity - 1  # still kept from the others
    _sms(bus, "oui", "SM" + "5" * 32)
    with Session(engine) as session:
        booking = session.exec(
            select(t.Booking).where(t.Booking.resident_id == hold.resident_id, t.Booking.status == "confirmed")
        ).one()
    assert (booking.slot_id, booking.seat) == (slot.id, hold.seat)


def test_a_later_replan_with_no_seat_left_nearby_withdraws_the_offer(engine: Engine, small_valley: int) -> None:  # noqa: F811
    # The new version keeps no stop within reach: the resident is told the seat is gone,
    # the dialogue no longer waits for OUI, and the waiting list takes them.
    _replan_without_a_commune(engine, small_valley)
    before = _hold(engine)

    _republish(engine, small_valley, lambda visit, commune: None)

    hold, _, _, conversation, told = _offer(engine, before.id)  # type: ignore[arg-type]
    assert hold.status == "withdrawn"
    assert [m.kind for m in told] == ["hold_withdrawn"] and "n'est plus disponible" in told[0].body
    assert conversation["state"] == "idle" and "hold_id" not in conversation
    with Session(engine) as session:
        waitlisted = session.exec(select(t.WaitlistEntry).where(t.WaitlistEntry.resident_id == hold.resident_id)).all()
    assert len(waitlisted) == 1
