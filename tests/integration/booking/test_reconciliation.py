"""Reconciliation: messages left ``unknown`` are settled with Twilio, never resent blindly.

Through the real Twilio client against the fake Twilio server, which answers
``GET /Messages/{Sid}.json`` and ``GET /Messages.json?To=...`` as Twilio does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.service_layer.dispatch import DispatchReport, claim_next
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.unit_of_work import UnitOfWorkFactory
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import OutboxLogSmsSender
from notifications.ports import FixedClock
from notifications.twilio_sms import TwilioSmsSender
from tests.fakes.fake_twilio import FakeTwilioServer, Fault

from .conftest import Stop

MARIE = "+33612345678"


@pytest.fixture
def twilio_bus(engine: Engine, settings: Settings, clock: FixedClock, fake_twilio: FakeTwilioServer) -> MessageBus:
    sender = TwilioSmsSender(
        fake_twilio.account_sid, fake_twilio.auth_token, "MG" + "0" * 32, "https://rdv.example.fr",
        api_base_url=fake_twilio.base_url, timeout=0.5,
    )
    return bootstrap(settings, engine=engine, sms=sender, clock=clock)


def confirmation(engine: Engine) -> t.Message:
    with Session(engine) as session:
        return session.exec(select(t.Message).where(t.Message.kind == "confirmation")).one()


def later(clock: FixedClock, settings: Settings) -> None:
    clock.advance(timedelta(seconds=settings.outbox_stale_after_seconds + 1))


def test_a_timed_out_message_that_twilio_created_is_found_and_marked_sent(
    twilio_bus: MessageBus, clock: FixedClock, settings: Settings, engine: Engine,
    fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop,
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    fake_twilio.fail_next(Fault.slow(1.5))
    assert twilio_bus.handle(commands.DispatchDueMessages()).unknown == 1
    assert twilio_bus.handle(commands.ReconcileUnknownMessages()).looked_up == 0, "too fresh to judge"
    [created] = fake_twilio.messages_to(MARIE)
    fake_twilio.set_status(created["sid"], "delivered")
    later(clock, settings)
    report = twilio_bus.handle(commands.ReconcileUnknownMessages())
    assert (report.looked_up, report.sent, report.not_sent) == (1, 1, 0)
    row = confirmation(engine)
    assert (row.status, row.provider_sid, row.provider_status) == ("delivered", created["sid"], "delivered")
    twilio_bus.handle(commands.DispatchDueMessages())
    assert len(fake_twilio.messages_to(MARIE)) == 1, "never sent twice"
    lookups = [r for r in fake_twilio.requests if r.method == "GET"]
    assert [r.query.get("To") for r in lookups] == [[MARIE]]


def test_an_attempt_that_never_reached_twilio_goes_back_to_pending_and_is_sent_once(
    twilio_bus: MessageBus, clock: FixedClock, settings: Settings, engine: Engine,
    fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop,
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    attempted = claim_next(UnitOfWorkFactory(engine)(), clock.now(), settings, DispatchReport())
    assert attempted is not None  # ...and the dispatcher is killed before its request leaves
    later(clock, settings)
    assert twilio_bus.handle(commands.DispatchDueMessages()).stale == 1
    assert confirmation(engine).status == "unknown"
    report = twilio_bus.handle(commands.ReconcileUnknownMessages())
    assert (report.sent, report.not_sent) == (0, 1)
    assert confirmation(engine).status == "pending"
    assert twilio_bus.handle(commands.DispatchDueMessages()).sent == 1
    assert len(fake_twilio.messages_to(MARIE)) == 1
    assert confirmation(engine).status == "sent"


def test_a_known_sid_is_fetched(
    twilio_bus: MessageBus, clock: FixedClock, settings: Settings, engine: Engine,
    fake_twilio: FakeTwilioServer, stop_at_saint_leger: Stop,
) -> None:
    twilio_bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    twilio_bus.handle(commands.DispatchDueMessages())
    sid = confirmation(engine).provider_sid
    assert sid is not None
    with session_scope(engine) as session:  # e.g. left so by an older version of the dispatcher
        row = session.exec(select(t.Message).where(t.Message.kind == "confirmation")).one()
        row.status, row.provider_status = "unknown", None
    fake_twilio.set_status(sid, "undelivered", error_code=30003)
    later(clock, settings)
    assert twilio_bus.handle(commands.ReconcileUnknownMessages()).sent == 1
    row = confirmation(engine)
    assert (row.status, row.provider_status, row.error_code) == ("undelivered", "undelivered", "30003")
    assert [r.path.rsplit("/", 1)[-1] for r in fake_twilio.requests if r.method == "GET"] == [f"{sid}.json"]


def test_a_message_with_the_same_body_already_owned_by_another_row_is_not_taken(
    twilio_bus: MessageBus, clock: FixedClock, settings: Settings, engine: Engine, fake_twilio: FakeTwilioServer,
) -> None:
    with session_scope(engine) as session:
        for key in ("a", "b"):
            session.add(t.Message(recipient=MARIE, kind="notice", body="Même texte", idempotency_key=key, due_at=clock.now()))
    assert twilio_bus.handle(commands.DispatchDueMessages()).sent == 2
    with Session(engine) as session:
        rows = session.exec(select(t.Message).order_by(t.Message.id)).all()
    assert [r.status for r in rows] == ["sent", "sent"]
    # The second row's answer was lost: it looks like it was never answered.
    with session_scope(engine) as session:
        second = session.get(t.Message, rows[1].id)
        assert second is not None
        second.status, second.provider_sid, second.provider_status = "unknown", None, None
    assert len(fake_twilio.messages_to(MARIE)) == 2
    later(clock, settings)
    report = twilio_bus.handle(commands.ReconcileUnknownMessages())
    assert report.sent == 1
    with Session(engine) as session:
        sids = [r.provider_sid for r in session.exec(select(t.Message).order_by(t.Message.id))]
    assert sorted(sids) == sorted(m["sid"] for m in fake_twilio.messages)


def test_without_a_lookup_the_message_stays_unknown(
    engine: Engine, settings: Settings, clock: FixedClock, stop_at_saint_leger: Stop, tmp_path: Path,
) -> None:
    """A backend that cannot say what it sent (the embedded outbox log) keeps the row visibly uncertain."""
    bus = bootstrap(settings, engine=engine, sms=OutboxLogSmsSender(tmp_path / "sms.log"), clock=clock)
    bus.handle(commands.BookSlot(phone=MARIE, slot_id=stop_at_saint_leger.single_slot_id))
    attempted = claim_next(UnitOfWorkFactory(engine)(), clock.now(), settings, DispatchReport())
    assert attempted is not None
    later(clock, settings)
    bus.handle(commands.DispatchDueMessages())
    assert bus.handle(commands.ReconcileUnknownMessages()).looked_up == 0
    assert confirmation(engine).status == "unknown"
