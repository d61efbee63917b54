"""Triage of a due outbox row, decided in memory for a whole claimed batch (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mobile_services.service_layer.outbox_triage import DueRow, Verdict, triage
from scheduler.timing import MessagingRules

RULES = MessagingRules(tz=ZoneInfo("Europe/Paris"))
DAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 11:00 in Paris
NIGHT = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 22:00 in Paris: quiet hours


def row(kind: str = "reminder_day_before", *, expires_at: datetime | None = None, recipient: str | None = "+33612345678") -> DueRow:
    return DueRow(
        id=1, recipient=recipient, resident_id=7, booking_id=3, kind=kind, body="Rappel", idempotency_key="k",
        expires_at=expires_at,
    )


def verdict(message: DueRow, now: datetime = DAY, *, opted_out: bool = False, later: bool = False) -> Verdict:
    return triage(message, now, RULES, opted_out=opted_out, later_reminder_due=later).verdict


def test_a_plain_due_reminder_is_sent() -> None:
    assert verdict(row()) is Verdict.SEND


def test_expiry_comes_first_then_consent() -> None:
    assert verdict(row(expires_at=DAY), opted_out=True) is Verdict.EXPIRE
    assert verdict(row(), opted_out=True) is Verdict.WITHDRAW
    assert verdict(row(recipient=None)) is Verdict.WITHDRAW  # anonymised


def test_quiet_hours_postpone_reminders_to_their_end_but_not_replies() -> None:
    decision = triage(row(), NIGHT, RULES, opted_out=False, later_reminder_due=False)
    assert decision.verdict is Verdict.POSTPONE
    assert decision.due_at == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert verdict(row("confirmation"), NIGHT) is Verdict.SEND
    assert verdict(row(expires_at=NIGHT + timedelta(hours=2)), NIGHT) is Verdict.EXPIRE  # useless by 08:00


@pytest.mark.parametrize(("kind", "expected"), [("reminder_day_before", Verdict.EXPIRE), ("reminder_hours_before", Verdict.SEND)])
def test_a_late_day_before_reminder_gives_way_to_the_later_one(kind: str, expected: Verdict) -> None:
    assert verdict(row(kind), later=True) is expected
