"""One-time SMS codes: a phone number typed on a page is proved before anything is booked.

A request checks the number (a French mobile, not opted out), the rate limits (per phone
and per requesting address) and, for a booking, that the chosen seat is still free; then
it stores a challenge and queues the code SMS in the outbox, in the same transaction. The
code is six digits, valid 10 minutes, 5 tries, used once; only its hash is kept. Once
verified, the caller books with :class:`BookSlot` (or joins the waiting list with
:class:`JoinWaitlist`): the same command and rules as by SMS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from config import Settings
from mobile_services.domain import commands
from mobile_services.domain.exceptions import InvalidInput
from mobile_services.domain.phones import is_mobile, normalise_phone
from mobile_services.service_layer.booking import live_seats, renderer
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

__all__ = ["CODE_TTL", "MAX_ATTEMPTS", "VerifiedRequest", "request_web_code", "verify_web_code"]

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
#: At most this many codes per phone number, and per requesting address, in RATE_WINDOW.
PER_PHONE = 3
PER_CLIENT = 10
RATE_WINDOW = timedelta(hours=1)


class WebCodeRefused(InvalidInput):
    """A refusal the page explains; ``code`` names the French message of the template."""

    def __init__(self, code: str, english: str) -> None:
        super().__init__(english, code)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class VerifiedRequest:
    purpose: str
    phone: str
    slot_id: int | None
    service_id: int | None
    commune_id: int | None


def _hash(challenge: str, code: str) -> str:
    return hashlib.sha256(f"{challenge}:{code}".encode()).hexdigest()


def client_hash(address: str) -> str:
    """The requesting address, hashed: enough to count requests, nothing to keep."""
    return hashlib.sha256(f"web-code-client:{address}".encode()).hexdigest()


def _count(session: Session, column: object, value: str, since: datetime) -> int:
    return session.exec(select(func.count()).select_from(t.WebCode).where(column == value, t.WebCode.created_at > since)).one()  # type: ignore[operator]


def request_code(
    session: Session, command: commands.RequestWebCode, *, now: datetime, settings: Settings
) -> str:
    try:
        phone = normalise_phone(command.phone)
    except Exception:
        raise WebCodeRefused("telephone", "not a phone number") from None
    if not is_mobile(phone):
        raise WebCodeRefused("telephone", "not a mobile number")
    resident = session.exec(select(t.Resident).where(t.Resident.phone == phone)).first()
    if resident is not None and (resident.opted_out or resident.unreachable):
        raise WebCodeRefused("stop", "the number opted out of our SMS")
    since = now - RATE_WINDOW
    client = client_hash(command.client)
    if _count(session, col(t.WebCode.phone), phone, since) >= PER_PHONE or _count(session, col(t.WebCode.client_hash), client, since) >= PER_CLIENT:
        logger.info("web code refused: rate limit")
        raise WebCodeRefused("trop", "too many codes requested")
    if command.purpose == "booking":
        slot = session.get(t.Slot, command.slot_id) if command.slot_id is not None else None
        if slot is None or slot.walk_in:
            raise WebCodeRefused("creneau", "no bookable slot chosen")
        if slot.start_at - timedelta(minutes=settings.booking_cutoff_minutes) < now:
            raise WebCodeRefused("tard", "too late for this slot")
        if len(live_seats(session, slot.id, now)) >= slot.capacity:  # type: ignore[arg-type]
            raise WebCodeRefused("pris", "the slot was taken meanwhile")
    challenge = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        t.WebCode(
            challenge=challenge, purpose=command.purpose, phone=phone, code_hash=_hash(challenge, code),
            client_hash=client, slot_id=command.slot_id, service_id=command.service_id, commune_id=command.commune_id,
            created_at=now, expires_at=now + CODE_TTL,
        )
    )  # fmt: skip
    session.add(
        t.Message(
            recipient=phone, resident_id=resident.id if resident is not None else None, kind="login_code",
            body=renderer(settings.timezone).render("login_code", code=code, minutes=int(CODE_TTL.total_seconds() // 60)),
            idempotency_key=f"web-code:{challenge}", due_at=now, expires_at=now + CODE_TTL, created_at=now,
        )
    )  # fmt: skip
    session.flush()
    return challenge


def request_web_code(command: commands.RequestWebCode, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> str:
    with uow:
        challenge = request_code(uow.session, command, now=clock.now(), settings=settings)
        uow.commit()
        return challenge


def pending(session: Session, challenge: str, now: datetime) -> t.WebCode | None:
    """The challenge a code page shows, while it can still be answered."""
    if not challenge or len(challenge) > 64:
        return None
    row = session.exec(select(t.WebCode).where(t.WebCode.challenge == challenge)).first()
    if row is None or row.used_at is not None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS or row.phone is None:
        return None
    return row


def verify_web_code(command: commands.VerifyWebCode, *, uow: UnitOfWork, clock: Clock) -> VerifiedRequest:
    """Check the code; a wrong one costs a try (committed), a right one is used up."""
    now = clock.now()
    with uow:
        row = uow.session.exec(select(t.WebCode).where(t.WebCode.challenge == command.challenge).with_for_update()).first()
        if row is None or row.used_at is not None or row.expires_at <= now or row.phone is None:
            raise WebCodeRefused("expire", "unknown, used or expired code")
        if row.attempts >= MAX_ATTEMPTS:
            raise WebCodeRefused("essais", "no tries left")
        given = "".join(ch for ch in command.code if ch.isdigit())
        if len(given) != 6 or not hmac.compare_digest(_hash(row.challenge, given), row.code_hash):
            row.attempts += 1
            uow.session.add(row)
            uow.commit()
            raise WebCodeRefused("essais" if row.attempts >= MAX_ATTEMPTS else "code", "wrong code")
        row.used_at = now
        uow.session.add(row)
        uow.commit()
        return VerifiedRequest(
            purpose=row.purpose, phone=row.phone, slot_id=row.slot_id, service_id=row.service_id, commune_id=row.commune_id
        )
