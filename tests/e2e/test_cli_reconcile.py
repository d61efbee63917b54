"""`mobile-services sms reconcile`: an operator settles uncertain messages by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope, upgrade
from tests.fakes.fake_twilio import FakeTwilioServer

runner = CliRunner()


def test_reconcile_sends_back_what_twilio_never_got_and_keeps_what_it_has(
    cli_on_fake_twilio: FakeTwilioServer, empty_database_url: str
) -> None:
    fake_twilio = cli_on_fake_twilio
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    attempted = datetime.now(UTC) - timedelta(minutes=10)
    with session_scope(engine) as session:
        for key, to in (("lost", "+33611111111"), ("arrived", "+33622222222")):
            session.add(t.Message(
                recipient=to, kind="confirmation", body=f"RDV {key}", idempotency_key=key, due_at=attempted,
                status="unknown", claimed_at=attempted, attempts=1, error_code="timeout",
            ))  # fmt: skip
    # What reached Twilio before the dispatcher lost the answer:
    assert runner.invoke(app, ["sms", "dispatch"]).exit_code == 0  # nothing pending: sends nothing
    from twilio.rest import Client

    client = Client(fake_twilio.account_sid, fake_twilio.auth_token)
    client.api.base_url = fake_twilio.base_url
    client.messages.create(to="+33622222222", body="RDV arrived", messaging_service_sid="MG" + "0" * 32)

    result = runner.invoke(app, ["sms", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "2 SMS incertain(s) vérifié(s) : 1 bien reçu(s) par Twilio, 1 jamais reçu(s)" in result.output
    assert runner.invoke(app, ["sms", "dispatch"]).exit_code == 0
    with Session(engine) as session:
        statuses = {m.idempotency_key: m.status for m in session.exec(select(t.Message))}
    engine.dispose()
    assert statuses == {"lost": "sent", "arrived": "sent"}
    assert sorted(m["body"] for m in fake_twilio.messages) == ["RDV arrived", "RDV lost"]
