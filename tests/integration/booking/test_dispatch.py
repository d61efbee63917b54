"""Outbox dispatch through the real Twilio client against the fake Twilio server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.service_layer.dispatch import DispatchReport, claim_next, dispatch_due
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.ports import FixedClock
from notifications.twilio_sms import TwilioSmsSender
from tests.fakes.fake_twilio import FakeTwilioServer, Fault, refused_base_url

from .conftest import NOW, Stop

MARIE = "+33612345678"


@pytest.fixture
def twilio(fake_twilio: FakeTwilioServer) -> TwilioSmsSender:
    return TwilioSmsSender(
        fake_twilio.account_sid, fake_twilio.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
        api_base_url=fake_twilio.base_url, timeout=0.5,
    )


@pytest.fixture
def twilio_bus(engine: Engine, settings: Settings, clock: FixedClock, twilio: TwilioSmsSender) -> MessageBus:
    return bootstrap(settings, engine=engine, sms=twilio, clock=clock)


def outbox(engine: Engine) -> dict[str, t.Message]:
    with Session(engine) as session:
        return {m.kind: m for m in session.exec(select(t.Message))}


def resident(engine: Engine) -> t.Resident:
    with Session(engine) as session:
        return session.exec(select(t.Resident).where(t.Resident.phone == MARIE)).one()


def test_confirmation_is_sent_once_with_callback_and_validity(
    twilio_bus: MessageBus, engine: Engine, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    first = twilio_bus.handle(commands.DispatchDueMessages())
    second = twilio_bus.handle(commands.DispatchDueMessages())
    assert (first.sent, second.sent) == (1, 0)
    [request] = fake_twilio.requests
    assert request.field("To") == MARIE
    assert request.field("MessagingServiceSid") == "MG" + "0" * 32
    confirmation = outbox(engine)["confirmation"]
    assert request.field("StatusCallback") == f"https://rdv.example.fr/sms/status?outbox_id={confirmation.id}"
    assert 1 <= int(request.field("ValidityPeriod") or 0) <= 36_000
    assert confirmation.status == "sent" and confirmation.provider_sid.startswith("SM")  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", [Fault.unsubscribed(), Fault.invalid_number(), Fault.not_mobile()])
def test_permanent_errors_are_not_retried_and_flag_the_resident(
    twilio_bus: MessageBus, clock: FixedClock, engine: Engine, fake_twilio: FakeTwilioServer,
    stop_at_saint_leger: Stop, fault: Fault,
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_twilio.fail_number(MARIE, fault)
    report = twilio_bus.handle(commands.DispatchDueMessages())
    clock.advance(timedelta(hours=2))
    twilio_bus.handle(commands.DispatchDueMessages())
    assert report.failed == 1
    assert len(fake_twilio.requests) == 1
    assert outbox(engine)["confirmation"].error_code == str(fault.code)
    assert resident(engine).unreachable


def test_rate_limit_is_retried_with_backoff(
    twilio_bus: MessageBus, clock: FixedClock, engine: Engine, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_twilio.fail_next(Fault.rate_limited(retry_after_s=60))
    report = twilio_bus.handle(commands.DispatchDueMessages())
    assert report.retried == 1
    pending = outbox(engine)["confirmation"]
    assert pending.status == "pending" and pending.due_at >= NOW + timedelta(seconds=60)
    assert twilio_bus.handle(commands.DispatchDueMessages()).sent == 0  # not yet due
    clock.advance(timedelta(seconds=61))
    assert twilio_bus.handle(commands.DispatchDueMessages()).sent == 1
    assert len(fake_twilio.requests) == 2


def test_server_error_and_refused_connection_are_retried(
    engine: Engine, settings: Settings, clock: FixedClock, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    refused = TwilioSmsSender(
        fake_twilio.account_sid, fake_twilio.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
        api_base_url=refused_base_url(), timeout=0.5,
    )
    bus = bootstrap(settings, engine=engine, sms=refused, clock=clock)
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    assert bus.handle(commands.DispatchDueMessages()).retried == 1
    twilio = bootstrap(settings, engine=engine, sms=TwilioSmsSender(
        fake_twilio.account_sid, fake_twilio.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
        api_base_url=fake_twilio.base_url, timeout=0.5,
    ), clock=clock)
    fake_twilio.fail_next(Fault.server_error(503))
    clock.advance(timedelta(minutes=5))
    assert twilio.handle(commands.DispatchDueMessages()).retried == 1
    clock.advance(timedelta(minutes=5))
    assert twilio.handle(commands.DispatchDueMessages()).sent == 1


def test_read_timeout_becomes_unknown_and_is_never_resent_blindly(
    twilio_bus: MessageBus, clock: FixedClock, engine: Engine, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_twilio.fail_next(Fault.slow(1.5))
    assert twilio_bus.handle(commands.DispatchDueMessages()).unknown == 1
    clock.advance(timedelta(hours=1))
    twilio_bus.handle(commands.DispatchDueMessages())
    assert len(fake_twilio.messages_to(MARIE)) == 1, "never resent blindly after a timeout"
    assert outbox(engine)["confirmation"].status == "unknown"


def test_a_crash_after_the_attempt_leaves_only_that_row_uncertain(
    engine: Engine, settings: Settings, clock: FixedClock, twilio: TwilioSmsSender,
    twilio_bus: MessageBus, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop,
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    twilio_bus.handle(commands.BookSlot(phone="+33687654321", slot_id=stop_at_saint_leger.shared_slot_id))
    attempted = claim_next(UnitOfWorkFactory(engine)(), clock.now(), settings, DispatchReport())
    assert attempted is not None and attempted.recipient == MARIE
    # ...the process dies here, before or during the call to Twilio.
    with Session(engine) as session:
        statuses = sorted(m.status for m in session.exec(select(t.Message).where(t.Message.kind == "confirmation")))
    assert statuses == ["pending", "sending"], "only the attempted row left pending"
    clock.advance(timedelta(seconds=settings.outbox_stale_after_seconds + 1))
    report = dispatch_due(UnitOfWorkFactory(engine)(), twilio, clock.now(), settings)
    assert (report.stale, report.sent) == (1, 1)
    assert [r.field("To") for r in fake_twilio.requests] == ["+33687654321"]
    with Session(engine) as session:
        row = session.get(t.Message, attempted.id)
    assert row is not None and row.status == "unknown", "settled by reconciliation, never resent blindly"


def test_cancelled_booking_sends_no_reminder(
    twilio_bus: MessageBus, clock: FixedClock, engine: Engine, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    booking = twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    twilio_bus.handle(commands.DispatchDueMessages())  # the confirmation leaves
    twilio_bus.handle(commands.CancelBooking(booking_id=booking.booking_id, phone=MARIE))
    for day in range(10):
        clock.set(NOW + timedelta(days=day, hours=9))
        twilio_bus.handle(commands.DispatchDueMessages())
    bodies = [r.field("Body") or "" for r in fake_twilio.requests]
    assert len(bodies) == 2  # the confirmation, then the cancellation acknowledgement
    assert "annulé" in bodies[1]
    assert not any(body.startswith("Rappel") for body in bodies)


def test_reminders_wait_for_the_end_of_quiet_hours_and_expire_after_the_appointment(
    twilio_bus: MessageBus, clock: FixedClock, engine: Engine, fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    twilio_bus.handle(commands.DispatchDueMessages())
    # The dispatcher was down from the day before until after the appointment.
    clock.set(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))
    report = twilio_bus.handle(commands.DispatchDueMessages())
    assert report.expired == 2 and report.sent == 0
    assert len(fake_twilio.requests) == 1
