"""The shipped fakes behave like senders the dispatcher can rely on."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from notifications.fakes import FakeSmsSender, OutboxLogSmsSender
from notifications.ports import FixedClock, OutgoingSms, SendOutcome, SendResult


def sms(to: str = "+33612345678", body: str = "Bonjour", key: str = "k-1", outbox_id: int | None = 7) -> OutgoingSms:
    return OutgoingSms(to=to, body=body, idempotency_key=key, outbox_id=outbox_id)


def test_fake_sender_records_and_succeeds_by_default() -> None:
    sender = FakeSmsSender()
    first = sender.send(sms(key="a"))
    second = sender.send(sms(key="b", body="Rappel"))
    assert first.outcome is SendOutcome.SENT and second.outcome is SendOutcome.SENT
    assert first.provider_sid != second.provider_sid
    assert [m.idempotency_key for m in sender.sent] == ["a", "b"]
    assert sender.bodies_to("+33612345678") == ["Bonjour", "Rappel"]
    assert sender.last.body == "Rappel"


def test_fake_sender_plays_its_script_in_order_then_succeeds() -> None:
    sender = FakeSmsSender([SendResult.retryable("busy", http_status=429)])
    sender.script(SendResult.unknown("timeout"))
    outcomes = [sender.send(sms()).outcome for _ in range(3)]
    assert outcomes == [SendOutcome.RETRYABLE, SendOutcome.UNKNOWN, SendOutcome.SENT]


def test_fake_sender_fails_a_number_every_time() -> None:
    sender = FakeSmsSender()
    sender.fail_for("+33611111111", SendResult.permanent_error(21610, "unsubscribed"))
    assert sender.send(sms(to="+33611111111")).recipient_unreachable
    assert sender.send(sms(to="+33611111111")).error_code == 21610
    assert sender.send(sms(to="+33622222222")).outcome is SendOutcome.SENT
    with pytest.raises(ValueError):
        sender.fail_for("+33633333333", SendResult.sent("SM1"))


def test_fake_sender_last_without_messages_is_a_test_error() -> None:
    with pytest.raises(AssertionError):
        _ = FakeSmsSender().last


def test_outbox_log_appends_one_readable_line_per_sms(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc))
    log = tmp_path / "data" / "sms.log"
    sender = OutboxLogSmsSender(log, clock=clock)
    first = sender.send(sms(body="Vos RDV :\n1) mar. 8 déc. 14h30 Crocq"))
    second = sender.send(sms(body="Rappel", outbox_id=None, key="k-2"))
    assert first.outcome is SendOutcome.SENT
    assert first.provider_sid is not None and first.provider_sid.startswith("LOCAL-")
    assert first.provider_sid != second.provider_sid
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t") == [
        "2026-12-07T17:00:00+00:00",
        first.provider_sid,
        "to=+33612345678",
        "outbox=7",
        "key=k-1",
        "GSM-7x1",
        "Vos RDV :\\n1) mar. 8 déc. 14h30 Crocq",
    ]
    assert "\toutbox=-\t" in lines[1]
