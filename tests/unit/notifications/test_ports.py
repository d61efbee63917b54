"""Values and clocks of notifications.ports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from notifications.ports import (
    Clock,
    FixedClock,
    OutgoingSms,
    SendOutcome,
    SendResult,
    SmsSender,
    SystemClock,
)
from notifications.fakes import FakeSmsSender, OutboxLogSmsSender


def sms(**overrides: object) -> OutgoingSms:
    fields: dict[str, object] = dict(to="+33612345678", body="Bonjour", idempotency_key="k-1")
    fields.update(overrides)
    return OutgoingSms(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", ["0612345678", "33612345678", "+0612345678", "+33 6 12 34 56 78", ""])
def test_outgoing_sms_rejects_numbers_that_are_not_e164(number: str) -> None:
    with pytest.raises(ValueError, match="E.164"):
        sms(to=number)


def test_outgoing_sms_rejects_an_empty_body_and_an_empty_key() -> None:
    with pytest.raises(ValueError, match="body"):
        sms(body="")
    with pytest.raises(ValueError, match="idempotency_key"):
        sms(idempotency_key="")


@pytest.mark.parametrize("validity", [0, -5, 36_001])
def test_outgoing_sms_rejects_a_validity_twilio_would_refuse(validity: int) -> None:
    with pytest.raises(ValueError, match="validity_period_s"):
        sms(validity_period_s=validity)


def test_outgoing_sms_accepts_twilio_validity_bounds() -> None:
    assert sms(validity_period_s=1).validity_period_s == 1
    assert sms(validity_period_s=36_000).validity_period_s == 36_000


@pytest.mark.parametrize("code", [21610, 21211, 21614, 21408, 21612])
def test_recipient_errors_flag_the_resident(code: int) -> None:
    assert SendResult.permanent_error(code, "x").recipient_unreachable


def test_our_own_request_errors_do_not_flag_the_resident() -> None:
    # 21606: our From/Messaging Service is wrong; the resident is not at fault.
    assert not SendResult.permanent_error(21606, "x").recipient_unreachable
    # A retryable answer never flags anyone, whatever its code.
    assert not SendResult.retryable("x", error_code=21610).recipient_unreachable


def test_result_constructors_set_the_outcome() -> None:
    assert SendResult.sent("SM1").outcome is SendOutcome.SENT
    assert SendResult.sent("SM1").provider_sid == "SM1"
    assert SendResult.unknown("t").outcome is SendOutcome.UNKNOWN
    assert SendResult.retryable("x", retry_after_s=3).retry_after_s == 3


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc))
    assert clock.now() == datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    assert clock.advance(minutes=45) == datetime(2026, 3, 29, 1, 15, tzinfo=timezone.utc)
    assert clock.advance(timedelta(hours=1), minutes=1) == datetime(
        2026, 3, 29, 2, 16, tzinfo=timezone.utc
    )
    clock.set(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert clock.now().year == 2026 and clock.now().month == 1


def test_fixed_clock_normalises_to_utc_and_refuses_naive_times() -> None:
    paris = datetime(2026, 7, 1, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    clock = FixedClock(paris)
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now().hour == 12
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 7, 1, 14, 0))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(minutes=-1)


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_implementations_satisfy_the_protocols() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), Clock)
    assert isinstance(FakeSmsSender(), SmsSender)
    assert isinstance(OutboxLogSmsSender("unused.log"), SmsSender)
