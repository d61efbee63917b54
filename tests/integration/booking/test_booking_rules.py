"""Booking rules: seats, cut-off, one booking per stop, outbox rows in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain import commands
from mobile_services.domain.exceptions import BookingRefused, InvalidInput, NotFound
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.gsm import count_segments
from notifications.ports import FixedClock

from .conftest import STOP_START, Stop

PARIS = ZoneInfo("Europe/Paris")
MARIE = "06 12 34 56 78"
PAUL = "+33698765432"


def messages(engine: Engine) -> list[t.Message]:
    with Session(engine) as session:
        return list(session.exec(select(t.Message).order_by(t.Message.id)).all())


def test_booking_queues_confirmation_and_two_reminders(bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop) -> None:
    confirmation = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    assert confirmation.commune_name == "Saint-Léger-la-Montagne"
    assert confirmation.link.startswith("https://rdv.example.fr/r/")
    assert len(confirmation.token) >= 32  # >= 128 bits, URL-safe
    queued = messages(engine)
    assert [m.kind for m in queued] == ["confirmation", "reminder_day_before", "reminder_hours_before"]
    assert all(m.recipient == "+33612345678" for m in queued)
    assert "Saint-Léger-la-Montagne" in queued[0].body  # é is GSM-7: kept as written
    assert count_segments(queued[0].body).encoding == "GSM-7"
    day_before = queued[1].due_at.astimezone(PARIS)
    assert (day_before.day, day_before.hour, day_before.minute) == (7, 18, 0)
    # 09:00 minus two hours falls in the quiet hours: sent at 08:00 Paris instead.
    assert queued[2].due_at.astimezone(PARIS).hour == 8
    assert queued[2].due_at < STOP_START
    assert [m.expires_at for m in queued] == [STOP_START, STOP_START, STOP_START - timedelta(minutes=15)]


def test_a_full_slot_refuses_the_next_resident(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    with pytest.raises(BookingRefused) as caught:
        bus.handle(commands.BookSlot(phone=PAUL, slot_id=stop_at_saint_leger.single_slot_id))
    assert caught.value.code == "slot_full"  # type: ignore[attr-defined]
    assert "complet" in caught.value.french()


def test_one_live_booking_per_resident_per_stop(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    with pytest.raises(BookingRefused) as caught:
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.shared_slot_id))
    assert caught.value.code == "already_booked"  # type: ignore[attr-defined]


def test_cut_off_before_the_start(bus: MessageBus, clock: FixedClock, stop_at_saint_leger: Stop) -> None:
    clock.set(STOP_START - timedelta(minutes=59))
    with pytest.raises(BookingRefused) as caught:
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    assert caught.value.code == "too_late"  # type: ignore[attr-defined]


def test_walk_in_time_is_not_bookable(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    with pytest.raises(BookingRefused):
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.walk_in_slot_id))


def test_a_service_needs_a_skilled_crew(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    with pytest.raises(BookingRefused) as caught:
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id, service_id=stop_at_saint_leger.service_ants_id))
    assert caught.value.code == "service_not_offered"  # type: ignore[attr-defined]
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id, service_id=stop_at_saint_leger.service_caf_id))


def test_invalid_phone_is_refused_in_french(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    with pytest.raises(InvalidInput) as caught:
        bus.handle(commands.BookSlot(phone="12", slot_id=stop_at_saint_leger.single_slot_id))
    assert "invalide" in caught.value.french()


def test_landline_booking_is_kept_but_gets_no_sms(bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop) -> None:
    bus.handle(commands.BookSlot(phone="05 55 12 34 56", slot_id=stop_at_saint_leger.single_slot_id, channel="phone"))
    assert messages(engine) == []


def test_cancel_withdraws_reminders_and_frees_the_seat(bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop) -> None:
    booking = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=MARIE))
    by_kind = {m.kind: m.status for m in messages(engine)}
    assert by_kind["reminder_day_before"] == "withdrawn"
    assert by_kind["reminder_hours_before"] == "withdrawn"
    assert by_kind["cancellation_ack"] == "pending"
    bus.handle(commands.BookSlot(phone=PAUL, slot_id=stop_at_saint_leger.single_slot_id))
    with pytest.raises(BookingRefused):
        bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=MARIE))


def test_only_the_resident_can_cancel_their_booking(bus: MessageBus, stop_at_saint_leger: Stop) -> None:
    booking = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    with pytest.raises(NotFound):
        bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=PAUL))


def test_opted_out_residents_get_nothing_and_cannot_book_by_sms(bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop) -> None:
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    bus.handle(commands.SetOptOut(phone=MARIE, opted_out=True))
    assert {m.status for m in messages(engine)} == {"withdrawn"}
    with pytest.raises(BookingRefused) as caught:
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.shared_slot_id))
    assert caught.value.code in ("opted_out", "already_booked")  # type: ignore[attr-defined]


def test_freed_seat_is_offered_to_the_oldest_waiting_resident(bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop) -> None:
    bus.handle(commands.JoinWaitlist(phone="+33611111111", commune_id=stop_at_saint_leger.commune_id))
    bus.handle(commands.JoinWaitlist(phone="+33622222222", commune_id=stop_at_saint_leger.commune_id))
    booking = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=MARIE))
    offers = [m for m in messages(engine) if m.kind == "waitlist_seat_offer"]
    assert [m.recipient for m in offers] == ["+33611111111"]
    assert "Saint-Léger-la-Montagne" in offers[0].body and "OUI" in offers[0].body
