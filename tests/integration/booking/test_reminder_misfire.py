"""Reminders at the right Paris wall-clock time around DST, and what happens after downtime.

Misfire policy (scheduler/timing.py): a late day-before reminder is still sent while its
appointment has not started; the two-hours-before one only until 15 minutes before it;
when both are late, only the two-hours-before one leaves; nothing after the start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

from .conftest import Stop

PARIS = ZoneInfo("Europe/Paris")
MARIE = "+33612345678"

#: Saturdays, Sundays and Mondays around the last Sundays of March and October 2026.
DST_DAYS = [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def move_stop(engine: Engine, stop: Stop, start: datetime) -> None:
    """Put the stop (and its single slot) at ``start``."""
    with session_scope(engine) as session:
        visit = session.get(t.Visit, stop.visit_id)
        slot = session.get(t.Slot, stop.single_slot_id)
        assert visit is not None and slot is not None
        visit.day = start.astimezone(PARIS).date()
        visit.start_at, visit.end_at = start, start + timedelta(hours=3)
        slot.start_at, slot.end_at = start, start + timedelta(minutes=30)
        session.add_all([visit, slot])


def book_at(engine: Engine, stop: Stop, appointment: datetime, booked_at: datetime) -> tuple[MessageBus, FakeSmsSender, FixedClock]:
    move_stop(engine, stop, appointment)
    clock, sms = FixedClock(booked_at), FakeSmsSender()
    bus = bootstrap(Settings(public_base_url="https://rdv.example.fr"), engine=engine, sms=sms, clock=clock)
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop.single_slot_id))
    bus.handle(commands.DispatchDueMessages())  # the confirmation
    return bus, sms, clock


def reminders_sent(sms: FakeSmsSender) -> list[str]:
    return [m.body for m in sms.sent if m.body.startswith("Rappel")]


@pytest.mark.parametrize("day", DST_DAYS, ids=str)
def test_reminders_leave_at_the_paris_wall_clock_time_around_dst(engine: Engine, stop_at_saint_leger: Stop, day: date) -> None:
    """A dispatcher every 5 minutes from the morning before to the appointment (fixed clock)."""
    appointment = paris(day, 10, 0)
    bus, sms, clock = book_at(engine, stop_at_saint_leger, appointment, appointment - timedelta(days=6))
    sent_at: dict[str, datetime] = {}
    moment = paris(day - timedelta(days=1), 9, 0).astimezone(UTC)
    while moment < appointment:
        clock.set(moment)
        before = len(sms.sent)
        bus.handle(commands.DispatchDueMessages())
        for message in sms.sent[before:]:
            kind = "day_before" if "RDV le" in message.body else "hours_before"
            assert kind not in sent_at, "sent twice"
            sent_at[kind] = moment.astimezone(PARIS)
        moment += timedelta(minutes=5)
    assert sent_at == {"day_before": paris(day - timedelta(days=1), 18, 0), "hours_before": paris(day, 8, 0)}


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)], ids=str)
def test_reminders_with_the_system_clock_travelled_across_the_change(engine: Engine, stop_at_saint_leger: Stop, day: date) -> None:
    """The same with the real SystemClock, travelled with time-machine (no injected clock)."""
    appointment = paris(day, 11, 0)
    move_stop(engine, stop_at_saint_leger, appointment)
    sms = FakeSmsSender()
    bus = bootstrap(Settings(public_base_url="https://rdv.example.fr"), engine=engine, sms=sms)
    with time_machine.travel(appointment - timedelta(days=5), tick=False) as traveller:
        bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
        bus.handle(commands.DispatchDueMessages())
        for local, expected in [
            (paris(day - timedelta(days=1), 17, 59), 0),
            (paris(day - timedelta(days=1), 18, 0), 1),
            (paris(day, 3, 30), 1),  # the night of the change: quiet
            (paris(day, 8, 59), 1),
            (paris(day, 9, 0), 2),
            (paris(day, 10, 0), 2),
        ]:
            traveller.move_to(local)
            bus.handle(commands.DispatchDueMessages())
            assert len(reminders_sent(sms)) == expected, local


@pytest.mark.parametrize(
    "back_at, expected",
    [
        pytest.param((0, 19, 0), ["day_before"], id="back-at-19h-the-day-before: late day-before sent"),
        pytest.param((1, 7, 0), [], id="back-at-07h: quiet hours, nothing yet"),
        pytest.param((1, 9, 0), ["hours_before"], id="back-at-09h: both late, one SMS"),
        pytest.param((1, 9, 50), ["day_before"], id="back-at-09h50: too late for the second, the first still useful"),
        pytest.param((1, 10, 5), [], id="back-after-the-start: nothing"),
    ],
)
def test_after_downtime_a_reminder_goes_only_while_it_is_useful(
    engine: Engine, stop_at_saint_leger: Stop, back_at: tuple[int, int, int], expected: list[str]
) -> None:
    day = date(2026, 10, 26)  # Monday after the autumn change
    appointment = paris(day, 10, 0)
    bus, sms, clock = book_at(engine, stop_at_saint_leger, appointment, appointment - timedelta(days=6))
    offset, hour, minute = back_at
    clock.set(paris(day - timedelta(days=1 - offset), hour, minute))  # the dispatcher was down until now
    bus.handle(commands.DispatchDueMessages())
    kinds = ["day_before" if "RDV le" in body else "hours_before" for body in reminders_sent(sms)]
    assert kinds == expected
    clock.set(appointment + timedelta(hours=1))
    bus.handle(commands.DispatchDueMessages())
    assert len(reminders_sent(sms)) == len(expected), "nothing leaves after the appointment"
    with Session(engine) as session:
        left = session.exec(select(t.Message).where(t.Message.status == "pending")).all()
    assert left == []


def test_after_a_night_of_downtime_the_morning_sends_one_reminder(engine: Engine, stop_at_saint_leger: Stop) -> None:
    day = date(2026, 3, 30)  # Monday after the spring change
    appointment = paris(day, 10, 0)
    bus, sms, clock = book_at(engine, stop_at_saint_leger, appointment, appointment - timedelta(days=6))
    for local in (paris(day, 7, 0), paris(day, 8, 0), paris(day, 8, 5), paris(day, 9, 0)):
        clock.set(local)
        bus.handle(commands.DispatchDueMessages())
    assert [body.startswith("Rappel : RDV aujourd'hui") for body in reminders_sent(sms)] == [True]
