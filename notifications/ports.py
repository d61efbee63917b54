"""Small interfaces the rest of the application talks to, plus the values they exchange.

The service layer depends on these Protocols only; the real adapters
(`TwilioSmsSender`) and the fakes (`FakeSmsSender`, `OutboxLogSmsSender`) are
picked in `bootstrap`. Keeping the values here (and free of any provider type)
is what lets the outbox dispatcher decide retries without knowing Twilio.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "FixedClock",
    "OutgoingSms",
    "ProviderMessage",
    "SentSmsLookup",
    "SendOutcome",
    "SendResult",
    "SmsSender",
    "SystemClock",
    "RECIPIENT_ERROR_CODES",
    "MAX_VALIDITY_PERIOD_S",
]

# Twilio accepts ValidityPeriod between 1 and 36000 seconds (10 hours).
MAX_VALIDITY_PERIOD_S = 36_000

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

# Error codes returned when *creating* a message that say the recipient can never
# be reached at this number: the dispatcher marks the message failed and flags
# the resident, instead of retrying. Values are Twilio's documented meanings.
RECIPIENT_ERROR_CODES: frozenset[int] = frozenset(
    {
        21211,  # invalid 'To' phone number
        21217,  # phone number does not appear to be valid
        21408,  # permission to send to this region not enabled
        21610,  # recipient replied STOP (unsubscribed)
        21612,  # 'To' not reachable from this sender (e.g. landline, unsupported carrier)
        21614,  # 'To' is not a mobile number
    }
)


class SendOutcome(enum.Enum):
    """What the outbox dispatcher must do with a message after one send attempt."""

    SENT = "sent"
    """The provider accepted the message and gave it an id: store it, wait for callbacks."""
    PERMANENT_ERROR = "permanent_error"
    """The provider refused this message for good: retrying would fail the same way."""
    RETRYABLE = "retryable"
    """Nothing was created (rate limit, provider outage, connection refused): retry later."""
    UNKNOWN = "unknown"
    """The request may have reached the provider (read timeout, dropped connection).

    Twilio has no idempotency key for messages, so a retry could send the SMS twice:
    reconcile through the status callback instead of retrying blindly.
    """


@dataclass(frozen=True, kw_only=True)
class OutgoingSms:
    """One SMS to hand to a provider.

    `outbox_id` ties provider callbacks back to the outbox row (it is put in the
    status-callback URL); `idempotency_key` is the outbox's own unique key, kept
    here so that fakes and logs can show duplicates (Twilio itself has none).
    """

    to: str
    body: str
    idempotency_key: str
    outbox_id: int | None = None
    validity_period_s: int | None = None

    def __post_init__(self) -> None:
        if not _E164.match(self.to):
            raise ValueError("'to' must be an E.164 number such as +33612345678")
        if not self.body:
            raise ValueError("an SMS body cannot be empty")
        if not self.idempotency_key:
            raise ValueError("idempotency_key cannot be empty")
        if self.validity_period_s is not None and not (
            1 <= self.validity_period_s <= MAX_VALIDITY_PERIOD_S
        ):
            raise ValueError(
                f"validity_period_s must be between 1 and {MAX_VALIDITY_PERIOD_S} seconds"
            )


@dataclass(frozen=True, kw_only=True)
class SendResult:
    """The outcome of one send attempt, in provider-neutral terms.

    Build it with the class methods so that every outcome carries the fields
    that make sense for it (a sid for SENT, a code for errors...).
    """

    outcome: SendOutcome
    provider_sid: str | None = None
    provider_status: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    http_status: int | None = None
    retry_after_s: float | None = None

    @classmethod
    def sent(cls, provider_sid: str, provider_status: str | None = None) -> SendResult:
        return cls(
            outcome=SendOutcome.SENT,
            provider_sid=provider_sid,
            provider_status=provider_status,
        )

    @classmethod
    def permanent_error(
        cls, error_code: int | None, error_message: str = "", http_status: int | None = None
    ) -> SendResult:
        return cls(
            outcome=SendOutcome.PERMANENT_ERROR,
            error_code=error_code,
            error_message=error_message,
            http_status=http_status,
        )

    @classmethod
    def retryable(
        cls,
        error_message: str = "",
        *,
        error_code: int | None = None,
        http_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> SendResult:
        return cls(
            outcome=SendOutcome.RETRYABLE,
            error_code=error_code,
            error_message=error_message,
            http_status=http_status,
            retry_after_s=retry_after_s,
        )

    @classmethod
    def unknown(cls, error_message: str = "") -> SendResult:
        return cls(outcome=SendOutcome.UNKNOWN, error_message=error_message)

    @property
    def recipient_unreachable(self) -> bool:
        """True when the number itself is the problem, so the resident should be flagged.

        Other permanent errors (a malformed request, a misconfigured account) are
        our fault and must not mark the resident.
        """
        return (
            self.outcome is SendOutcome.PERMANENT_ERROR
            and self.error_code in RECIPIENT_ERROR_CODES
        )


@runtime_checkable
class SmsSender(Protocol):
    """Sends one SMS and reports what happened; never retries by itself.

    Retrying is the outbox dispatcher's job (it knows attempts, backoff and
    validity); a sender that retried internally could duplicate messages.
    """

    def send(self, message: OutgoingSms) -> SendResult: ...


@dataclass(frozen=True, kw_only=True)
class ProviderMessage:
    """What the provider knows about one message it accepted (for reconciliation)."""

    sid: str
    to: str | None
    body: str
    status: str
    created_at: datetime | None = None
    error_code: int | None = None


@runtime_checkable
class SentSmsLookup(Protocol):
    """Asks the provider what became of a message whose send was uncertain.

    Reconciliation uses it instead of resending: a read timeout or a killed
    dispatcher leaves us unsure whether the provider created the message, and
    only the provider can say.
    """

    def fetch(self, sid: str) -> ProviderMessage | None:
        """The message with this SID, or None when the provider has none."""
        ...

    def find(self, *, to: str, body: str, created_after: datetime) -> list[ProviderMessage] | None:
        """Messages to ``to`` with exactly ``body`` created after ``created_after``, newest first.

        None when the answer is not conclusive (the provider's history could not be
        read back far enough): the caller must then keep the message uncertain.
        """
        ...


@runtime_checkable
class Clock(Protocol):
    """The current time, injected so that services and tests agree on "now"."""

    def now(self) -> datetime:
        """Return an aware datetime in UTC."""
        ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to, for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when` (backwards too: tests of late callbacks need it)."""
        self._now = _as_utc(when)

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keyword arguments; return the new now."""
        step = (delta or timedelta()) + timedelta(**kwargs)
        if step < timedelta():
            raise ValueError("advance() only moves forward; use set() to go back")
        self._now = self._now + step
        return self._now


def _as_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("clocks deal in aware datetimes; got a naive one")
    return when.astimezone(timezone.utc)
