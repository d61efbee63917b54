"""A freed seat is held for the first person waiting, offered by SMS, and passed on.

Each rule of the waiting list has its test here, on every backend: the hold and its OUI,
a NON and a silence passing the seat on, the bound of three offers of one stop per
request, opted-out and unreachable numbers skipped, the quiet hours, and old requests
closed with a message.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mobile_services.domain import commands
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import FixedClock

from .conftest import NOW, Stop

MARIE = "+33612345678"
FIRST, SECOND, THIRD = "+33611111111", "+33622222222", "+33633333333"
_sids = iter(range(10**6))


def _offers(engine: Engine) -> list[t.Message]:
    with Session(engine) as session:
        return list(session.exec(select(t.Message).where(t.Message.kind == "waitlist_seat_offer").order_by(col(t.Message.id))).all())


def _holds(engine: Engine) -> list[t.SeatHold]:
    with Session(engine) as session:
        return list(session.exec(select(t.SeatHold).order_by(col(t.SeatHold.id))).all())


def _sms(bus: MessageBus, phone: str, body: str) -> list[str]:
    reply = bus.handle(commands.ReceiveSms(message_sid=f"SM{next(_sids):032d}", from_number=phone, body=body))
    return list(reply.messages)


def _free_the_single_seat(bus: MessageBus, stop: Stop) -> None:
    booking = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop.single_slot_id))
    bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=MARIE))


def _wait(bus: MessageBus, stop: Stop, *phones: str) -> None:
    for phone in phones:
        bus.handle(commands.JoinWaitlist(phone=phone, commune_id=stop.commune_id))


def test_the_freed_seat_is_held_for_the_oldest_request_and_oui_books_it(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST, SECOND)
    _free_the_single_seat(bus, stop_at_saint_leger)

    [offer] = _offers(engine)
    assert offer.recipient == FIRST
    assert "Une place s'est libérée à Saint-Léger-la-Montagne le mar. 8 déc. à 9h" in offer.body
    assert "OUI avant 10h30" in offer.body  # 30 minutes from 10:00 Paris
    [hold] = _holds(engine)[-1:]
    assert hold.status == "open" and hold.slot_id == stop_at_saint_leger.single_slot_id and hold.waitlist_entry_id
    # nobody else can take it meanwhile
    with pytest.raises(BookingRefused) as refused:
        bus.handle(commands.BookSlot(phone=THIRD, slot_id=stop_at_saint_leger.single_slot_id))
    assert refused.value.code == "slot_full"  # type: ignore[attr-defined]
    _sms(bus, FIRST, "oui")
    with Session(engine) as session:
        booking = session.exec(select(t.Booking).join(t.Resident).where(t.Resident.phone == FIRST)).one()
        assert booking.slot_id == stop_at_saint_leger.single_slot_id and booking.status == "confirmed"
        assert session.get(t.SeatHold, hold.id).status == "taken"  # type: ignore[union-attr]
        entry = session.exec(select(t.WaitlistEntry).join(t.Resident).where(t.Resident.phone == FIRST)).one()
        assert entry.status == "served"
        confirmation = session.exec(select(t.Message).where(t.Message.kind == "confirmation", t.Message.recipient == FIRST)).one()
        assert "mar. 8 déc." in confirmation.body


def test_non_passes_the_seat_to_the_next_request(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST, SECOND)
    _free_the_single_seat(bus, stop_at_saint_leger)
    _sms(bus, FIRST, "non merci")

    # at once (HeldSeatDeclined), not at the next pass of the job
    assert [m.recipient for m in _offers(engine)] == [FIRST, SECOND]
    assert [h.status for h in _holds(engine)] == ["declined", "open"]
    clock.advance(minutes=1)
    assert bus.handle(commands.PassOnFreedSeats()) == 0  # nothing offered twice
    # the one who said no is not asked again for this stop, even when the next one lets it go
    clock.advance(minutes=31)
    assert bus.handle(commands.PassOnFreedSeats()) == 1
    assert [m.recipient for m in _offers(engine)] == [FIRST, SECOND, SECOND]


def test_silence_passes_the_seat_on_and_each_request_is_offered_one_stop_three_times_at_most(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST, SECOND)
    _free_the_single_seat(bus, stop_at_saint_leger)
    for _ in range(8):
        clock.advance(minutes=31)
        bus.handle(commands.PassOnFreedSeats())

    recipients = [m.recipient for m in _offers(engine)]
    assert recipients == [FIRST, SECOND, FIRST, SECOND, FIRST, SECOND]  # oldest first, then in turn, 3 each
    assert all(h.status in ("expired", "open") for h in _holds(engine))
    assert sum(1 for h in _holds(engine) if h.status == "open") <= 1


def test_opted_out_and_unreachable_numbers_are_never_offered_a_seat(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST, SECOND, THIRD)
    bus.handle(commands.SetOptOut(phone=FIRST, opted_out=True))
    with Session(engine) as session:
        resident = session.exec(select(t.Resident).where(t.Resident.phone == SECOND)).one()
        resident.unreachable = True
        session.add(resident)
        session.commit()
    _free_the_single_seat(bus, stop_at_saint_leger)
    assert [m.recipient for m in _offers(engine)] == [THIRD]


def test_a_seat_freed_in_the_quiet_hours_is_offered_in_the_morning(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST)
    clock.set(NOW.replace(hour=21))  # 22:00 in Paris
    _free_the_single_seat(bus, stop_at_saint_leger)
    assert _offers(engine) == []
    assert bus.handle(commands.PassOnFreedSeats()) == 0
    clock.set(NOW.replace(hour=7, minute=5) + timedelta(days=1))  # 08:05 the next morning
    assert bus.handle(commands.PassOnFreedSeats()) == 1
    assert [m.recipient for m in _offers(engine)] == [FIRST]


def _request_made(engine: Engine, phone: str, days_ago: int) -> None:
    with Session(engine) as session:
        entry = session.exec(select(t.WaitlistEntry).join(t.Resident).where(t.Resident.phone == phone)).one()
        entry.created_at = NOW - timedelta(days=days_ago)
        session.add(entry)
        session.commit()


def test_old_requests_are_closed_and_the_resident_told_once(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST)
    _request_made(engine, FIRST, days_ago=59)
    assert bus.handle(commands.ExpireWaitlistEntries()) == 0
    _request_made(engine, FIRST, days_ago=61)
    assert bus.handle(commands.ExpireWaitlistEntries()) == 1
    assert bus.handle(commands.ExpireWaitlistEntries()) == 0
    with Session(engine) as session:
        told = session.exec(select(t.Message).where(t.Message.kind == "waitlist_expired")).all()
        assert [m.recipient for m in told] == [FIRST]
        assert "Saint-Léger-la-Montagne du mer. 30 sept. est close" in told[0].body
        assert session.exec(select(t.WaitlistEntry.status)).all() == ["expired"]
    # a closed request is offered nothing
    _free_the_single_seat(bus, stop_at_saint_leger)
    assert _offers(engine) == []


def test_stop_lets_a_held_seat_go_and_closes_the_request(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _wait(bus, stop_at_saint_leger, FIRST, SECOND)
    _free_the_single_seat(bus, stop_at_saint_leger)
    assert [m.recipient for m in _offers(engine)] == [FIRST]
    bus.handle(commands.SetOptOut(phone=FIRST, opted_out=True))
    with Session(engine) as session:
        # let go and passed on at once to the next request
        assert [h.status for h in session.exec(select(t.SeatHold).order_by(col(t.SeatHold.id))).all()] == ["declined", "open"]
        statuses = dict(session.exec(select(t.Resident.phone, t.WaitlistEntry.status).join(t.WaitlistEntry)).all())
        assert statuses == {FIRST: "closed", SECOND: "open"}
    assert [m.recipient for m in _offers(engine)] == [FIRST, SECOND]
    clock.advance(minutes=1)
    assert bus.handle(commands.PassOnFreedSeats()) == 0
