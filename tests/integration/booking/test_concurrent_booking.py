"""Fifty residents race for a slot of three seats: exactly three win, on every backend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.domain import commands
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t

from .conftest import Stop

RESIDENTS = 50


def test_fifty_concurrent_bookings_of_three_seats_yield_three(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    start = Barrier(RESIDENTS)

    def attempt(index: int) -> str:
        start.wait()
        try:
            bus.handle(commands.BookSlot(phone=f"+336{10000000 + index:08d}", slot_id=stop_at_saint_leger.shared_slot_id))
        except BookingRefused as refusal:
            return str(refusal.code)  # type: ignore[attr-defined]
        return "booked"

    with ThreadPoolExecutor(max_workers=RESIDENTS) as pool:
        outcomes = list(pool.map(attempt, range(RESIDENTS)))

    assert outcomes.count("booked") == 3
    assert outcomes.count("slot_full") == RESIDENTS - 3
    with Session(engine) as session:
        live = session.exec(select(t.Booking).where(t.Booking.status == "confirmed")).all()
        confirmations = session.exec(select(t.Message).where(t.Message.kind == "confirmation")).all()
    assert sorted(b.seat for b in live) == [1, 2, 3]
    assert len(confirmations) == 3
