"""A held seat's end is an event, and each has its consequence, at once.

NON (``HeldSeatDeclined``) and silence (``HoldExpired``, noticed by the every-minute pass)
pass the seat to the next person waiting; a resident who let the seat replacing their lost
booking run out joins their commune's waiting list and is told once; a booking
(``SlotBooked``) serves its resident's other requests for the same help and lets go of a
seat held for them elsewhere. Every backend.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mobile_services.domain import commands, events
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import FixedClock

from .conftest import NOW, Stop, hamlet_beside

MARIE = "+33612345678"
FIRST, SECOND = "+33611111111", "+33622222222"
_sids = iter(range(10**6))


def _sms(bus: MessageBus, phone: str, body: str) -> list[str]:
    reply = bus.handle(commands.ReceiveSms(message_sid=f"SM{next(_sids):032d}", from_number=phone, body=body))
    return list(reply.messages)


def _handled(bus: MessageBus, kind: type[events.Event]) -> list[events.Event]:
    return [m for m in bus.handled if isinstance(m, kind)]


def _seat_offers(engine: Engine) -> list[str | None]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(t.Message.recipient).where(t.Message.kind == "waitlist_seat_offer").order_by(col(t.Message.id))
            ).all()
        )


def _hold_of(engine: Engine, phone: str) -> t.SeatHold:
    with Session(engine) as session:
        return session.exec(
            select(t.SeatHold).join(t.Resident).where(t.Resident.phone == phone).order_by(col(t.SeatHold.id).desc())
        ).first()  # type: ignore[return-value]


def _waiting_and_freed(bus: MessageBus, stop: Stop) -> None:
    for phone in (FIRST, SECOND):
        bus.handle(commands.JoinWaitlist(phone=phone, commune_id=stop.commune_id))
    booked = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop.single_slot_id))
    bus.handle(commands.CancelBooking(booking_id=booked.booking_id, phone=MARIE))


def test_non_is_a_declined_hold_and_the_seat_goes_to_the_next_request_at_once(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _waiting_and_freed(bus, stop_at_saint_leger)
    hold = _hold_of(engine, FIRST)
    _sms(bus, FIRST, "non")

    [declined] = _handled(bus, events.HeldSeatDeclined)
    assert declined == events.HeldSeatDeclined(
        hold_id=hold.id, slot_id=stop_at_saint_leger.single_slot_id, resident_id=hold.resident_id, reason="said_no"  # type: ignore[arg-type]
    )
    assert _seat_offers(engine) == [FIRST, SECOND]  # no job had to run
    # handled again (a redelivery, a second worker), nothing is offered twice
    bus.handle(declined)
    assert _seat_offers(engine) == [FIRST, SECOND]


def test_a_hold_run_out_expires_as_an_event_and_its_seat_goes_on(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _waiting_and_freed(bus, stop_at_saint_leger)
    hold = _hold_of(engine, FIRST)
    clock.advance(minutes=29)
    bus.handle(commands.PassOnFreedSeats())
    assert _handled(bus, events.HoldExpired) == []

    clock.advance(minutes=2)
    bus.handle(commands.PassOnFreedSeats())
    [expired] = _handled(bus, events.HoldExpired)
    assert expired.hold_id == hold.id  # type: ignore[attr-defined]
    with Session(engine) as session:
        assert session.get(t.SeatHold, hold.id).status == "expired"  # type: ignore[union-attr]
        # silence is not a refusal: the request stays open
        assert session.exec(select(t.WaitlistEntry.status).where(t.WaitlistEntry.resident_id == hold.resident_id)).one() == "open"
    assert _seat_offers(engine) == [FIRST, SECOND]
    bus.handle(expired)
    assert _seat_offers(engine) == [FIRST, SECOND]


def _replacement_hold(engine: Engine, stop: Stop, bus: MessageBus, *, expires_in: timedelta) -> int:
    """Marie's booking was lost (its stop cancelled); a seat of the shared slot is kept for her."""
    booked = bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop.single_slot_id))
    bus.handle(commands.CancelBooking(booking_id=booked.booking_id, reason="stop_cancelled"))
    with Session(engine) as session:
        resident = session.exec(select(t.Resident).where(t.Resident.phone == MARIE)).one()
        hold = t.SeatHold(
            slot_id=stop.shared_slot_id, resident_id=resident.id, cancelled_booking_id=booked.booking_id, seat=1,  # type: ignore[arg-type]
            created_at=NOW, expires_at=NOW + expires_in,
        )  # fmt: skip
        session.add(hold)
        session.commit()
        return hold.id  # type: ignore[return-value]


def _told(engine: Engine, kind: str) -> list[t.Message]:
    with Session(engine) as session:
        return list(session.exec(select(t.Message).where(t.Message.kind == kind)).all())


def test_a_resident_who_let_the_seat_replacing_a_lost_booking_run_out_waits_for_the_next_stop(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    hold_id = _replacement_hold(engine, stop_at_saint_leger, bus, expires_in=timedelta(hours=2))
    clock.advance(hours=2, minutes=1)
    bus.handle(commands.PassOnFreedSeats())

    assert [e.hold_id for e in _handled(bus, events.HoldExpired)] == [hold_id]  # type: ignore[attr-defined]
    [told] = _told(engine, "hold_expired")
    assert told.recipient == MARIE
    assert told.body == (
        "Sans réponse, la place du mar. 8 déc. 9h30 à Saint-Léger-la-Montagne n'est plus gardée. "
        "Nous vous préviendrons du prochain passage."
    )
    with Session(engine) as session:
        entry = session.exec(select(t.WaitlistEntry).join(t.Resident).where(t.Resident.phone == MARIE)).one()
        assert (entry.commune_id, entry.status) == (stop_at_saint_leger.commune_id, "open")
    # once: the event handled again, or the pass run again, tells nobody twice
    bus.handle(_handled(bus, events.HoldExpired)[0])
    bus.handle(commands.PassOnFreedSeats())
    assert len(_told(engine, "hold_expired")) == 1


def test_a_hold_found_run_out_long_after_is_let_go_quietly(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _replacement_hold(engine, stop_at_saint_leger, bus, expires_in=timedelta(hours=1))
    clock.advance(days=2)  # the scheduler was down
    bus.handle(commands.PassOnFreedSeats())
    assert len(_handled(bus, events.HoldExpired)) == 1
    assert _told(engine, "hold_expired") == []


def test_a_resident_who_booked_meanwhile_is_not_put_on_the_waiting_list(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    _replacement_hold(engine, stop_at_saint_leger, bus, expires_in=timedelta(hours=2))
    # she booked the single seat again by herself (her hold is on the shared slot)
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    clock.advance(hours=3)
    bus.handle(commands.PassOnFreedSeats())
    assert _told(engine, "hold_expired") == []
    with Session(engine) as session:
        assert session.exec(select(t.WaitlistEntry)).all() == []


def test_taking_a_held_seat_is_a_booking_that_names_its_hold(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _waiting_and_freed(bus, stop_at_saint_leger)
    hold = _hold_of(engine, FIRST)
    _sms(bus, FIRST, "oui")
    taken = [e for e in _handled(bus, events.SlotBooked) if e.hold_id is not None]  # type: ignore[attr-defined]
    assert [(e.hold_id, e.slot_id) for e in taken] == [(hold.id, stop_at_saint_leger.single_slot_id)]  # type: ignore[attr-defined]
    assert _handled(bus, events.HeldSeatDeclined) == []


def test_a_booking_serves_the_residents_requests_for_the_same_help_in_other_communes(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    hamlet_id = hamlet_beside(engine, stop_at_saint_leger)
    caf, ants = stop_at_saint_leger.service_caf_id, stop_at_saint_leger.service_ants_id
    bus.handle(commands.JoinWaitlist(phone=FIRST, commune_id=hamlet_id, service_id=caf))  # type: ignore[arg-type]
    bus.handle(commands.JoinWaitlist(phone=FIRST, commune_id=stop_at_saint_leger.commune_id, service_id=ants))
    # no stop in her hamlet: she books the CAF at the next village's stop
    bus.handle(commands.BookSlot(phone=FIRST, slot_id=stop_at_saint_leger.shared_slot_id, service_id=caf, commune_id=hamlet_id))

    with Session(engine) as session:
        statuses = dict(session.exec(select(t.WaitlistEntry.service_id, t.WaitlistEntry.status)).all())
    # book() serves the stop's own commune whatever the service (as before); the event, the
    # hamlet's request for the same help
    assert statuses == {caf: "served", ants: "served"}


def test_a_request_for_another_help_elsewhere_stays_open(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    hamlet_id = hamlet_beside(engine, stop_at_saint_leger)
    caf, ants = stop_at_saint_leger.service_caf_id, stop_at_saint_leger.service_ants_id
    bus.handle(commands.JoinWaitlist(phone=FIRST, commune_id=hamlet_id, service_id=ants))  # type: ignore[arg-type]
    bus.handle(commands.BookSlot(phone=FIRST, slot_id=stop_at_saint_leger.shared_slot_id, service_id=caf))
    with Session(engine) as session:
        assert session.exec(select(t.WaitlistEntry.status)).all() == ["open"]


def test_a_booking_lets_go_of_a_seat_held_for_its_resident_elsewhere(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    _waiting_and_freed(bus, stop_at_saint_leger)
    hold = _hold_of(engine, FIRST)
    # FIRST books another time of the same stop on the web instead of answering the SMS offer
    bus.handle(commands.BookSlot(phone=FIRST, slot_id=stop_at_saint_leger.shared_slot_id, channel="web"))

    [declined] = _handled(bus, events.HeldSeatDeclined)
    assert (declined.hold_id, declined.reason) == (hold.id, "booked")  # type: ignore[attr-defined]
    assert _seat_offers(engine) == [FIRST, SECOND]  # the held seat went on at once
    with Session(engine) as session:
        dialogue = session.exec(select(t.Conversation).where(t.Conversation.phone == FIRST)).one()
        assert dialogue.state == "idle"  # an OUI now would not book the seat let go
