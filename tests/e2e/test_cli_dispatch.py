"""`mobile-services sms dispatch`: an operator drains the outbox by hand, several SMS in flight."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlmodel import Session, select
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope, upgrade
from tests.fakes.fake_twilio import FakeTwilioServer

runner = CliRunner()


def test_dispatch_all_sends_every_due_message_once_with_several_senders(
    cli_on_fake_twilio: FakeTwilioServer, empty_database_url: str
) -> None:
    fake_twilio = cli_on_fake_twilio
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with session_scope(engine) as session:
        for n in range(25):
            session.add(t.Message(
                recipient=f"+3361234{n:04d}", kind="confirmation", body=f"RDV n° {n}", idempotency_key=f"k{n}",
                due_at=datetime.now(UTC),
            ))  # fmt: skip
    result = runner.invoke(app, ["sms", "dispatch", "--all", "--limit", "10", "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    assert "25 envoyé(s)" in result.output
    with Session(engine) as session:
        statuses = Counter(m.status for m in session.exec(select(t.Message)))
    engine.dispose()
    assert statuses == Counter({"sent": 25})
    assert sorted(Counter(m["body"] for m in fake_twilio.messages).values()) == [1] * 25
