"""The reconciliation handler with the fake sender (fast; no HTTP): settle, never resend blindly."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.domain import commands
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock, SendResult

from .conftest import Stop

MARIE = "+33612345678"


def confirmation(engine: Engine) -> t.Message:
    with Session(engine) as session:
        return session.exec(select(t.Message).where(t.Message.kind == "confirmation")).one()


def test_an_answer_lost_after_the_provider_got_it_is_marked_sent_not_resent(
    bus: MessageBus, fake_sms: FakeSmsSender, clock: FixedClock, settings: Settings, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_sms.script(SendResult.unknown("read timeout"))
    bus.handle(commands.DispatchDueMessages())
    clock.advance(timedelta(seconds=settings.outbox_stale_after_seconds + 1))
    report = bus.handle(commands.ReconcileUnknownMessages())
    bus.handle(commands.DispatchDueMessages())
    assert (report.sent, report.not_sent) == (1, 0)
    [held] = fake_sms.provider.values()
    assert (confirmation(engine).status, confirmation(engine).provider_sid) == ("sent", held.sid)
    assert len(fake_sms.bodies_to(MARIE)) == 1


def test_a_request_that_never_arrived_is_sent_again_once(
    bus: MessageBus, fake_sms: FakeSmsSender, clock: FixedClock, settings: Settings, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_sms.script_lost()
    bus.handle(commands.DispatchDueMessages())
    clock.advance(timedelta(seconds=settings.outbox_stale_after_seconds + 1))
    assert bus.handle(commands.ReconcileUnknownMessages()).not_sent == 1
    assert bus.handle(commands.DispatchDueMessages()).sent == 1
    assert bus.handle(commands.ReconcileUnknownMessages()).looked_up == 0
    assert len(fake_sms.provider) == 1 and len(fake_sms.bodies_to(MARIE)) == 2
    assert confirmation(engine).status == "sent"
