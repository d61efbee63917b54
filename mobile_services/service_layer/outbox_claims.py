"""The SQL of outbox dispatch: batch claims with a lease, fenced attempts, outcomes (SQLAlchemy Core).

Dispatch is the hot path of a national deployment (hundreds of SMS a second), so these
statements are Core, compiled once and cached, on a connection the caller keeps: no ORM
objects, no identity map, no flush, one round trip each.

A row's life through dispatch:

1. **Claimed** in a batch (:func:`claim_batch`): one statement reads the next due
   ``pending`` rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several dispatcher
   processes take disjoint batches; SQLite has one writer at a time anyway), triage
   settles the ones not to send in a few set-based updates, and the others get the
   claim's token and lease (``claim_token``, ``claim_expires_at``). They stay
   ``pending``: a claim is only a reservation. If the claimer dies, its rows are due to
   anyone once the lease lapses; nothing needs to put them back.
2. **Attempted** (:func:`attempt`), one row at a time, committed right before its own
   provider call: ``pending`` -> ``sending``, only if the row is still ``pending``, still
   carries *this* claim's token and is still valid. That condition is the fence: a
   claimer that outlived its lease finds its row re-claimed by someone else (another
   token) and leaves it alone, and a row withdrawn meanwhile (booking cancelled,
   resident opted out) is not sent.
3. **Outcome**: an accepted message is recorded by :func:`record_sent` (the common
   case, one statement, usually in the same commit as the next row's attempt); the rare
   outcomes (errors, retries, timeouts) go through the ORM in
   :func:`mobile_services.service_layer.dispatch.record_outcome`.

Only ``sending`` rows can be uncertain after a crash, so a dispatcher leaves at most as
many as it had calls in flight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, bindparam, case, func, or_, select, true, update

from mobile_services.service_layer.outbox_triage import DueRow, Verdict, triage
from mobile_services.storage import tables as t
from mobile_services.storage.types import UTCDateTime
from scheduler.timing import MessagingRules

MESSAGE: Table = t.Message.__table__  # type: ignore[attr-defined]
RESIDENT: Table = t.Resident.__table__  # type: ignore[attr-defined]
M = MESSAGE.c

_IDS = bindparam("ids", expanding=True)

_DUE = (
    select(M.id, M.recipient, M.resident_id, M.booking_id, M.kind, M.body, M.idempotency_key, M.expires_at)
    .where(
        M.status == "pending",
        M.due_at <= bindparam("now", type_=UTCDateTime()),
        or_(M.claim_token.is_(None), M.claim_expires_at <= bindparam("now", type_=UTCDateTime())),
    )
    .order_by(M.due_at, M.id)
    .limit(bindparam("size"))
    # PostgreSQL: rows another dispatcher is claiming are skipped, not waited for.
    # SQLite renders no FOR UPDATE: its transactions begin IMMEDIATE, one writer at a time.
    .with_for_update(skip_locked=True, of=MESSAGE)
)

_OPTED_OUT = select(RESIDENT.c.id).where(RESIDENT.c.id.in_(_IDS), RESIDENT.c.opted_out == true())

#: Bookings whose two-hours-before reminder is pending, due and valid: their day-before one gives way.
_LATER_REMINDER_DUE = select(M.booking_id).where(
    M.booking_id.in_(_IDS),
    M.kind == "reminder_hours_before",
    M.status == "pending",
    M.due_at <= bindparam("now", type_=UTCDateTime()),
    or_(M.expires_at.is_(None), M.expires_at > bindparam("now", type_=UTCDateTime())),
)

_SETTLE = (
    update(MESSAGE).where(M.id.in_(_IDS)).values(status=bindparam("new_status"), claim_token=None, claim_expires_at=None)
)
_POSTPONE = (
    update(MESSAGE)
    .where(M.id.in_(_IDS))
    .values(due_at=bindparam("new_due_at", type_=UTCDateTime()), claim_token=None, claim_expires_at=None)
)
_CLAIM = (
    update(MESSAGE)
    .where(M.id.in_(_IDS))
    .values(claim_token=bindparam("token"), claim_expires_at=bindparam("lease_end", type_=UTCDateTime()))
)

_ATTEMPT = (
    update(MESSAGE)
    .where(
        M.id == bindparam("row_id"),
        M.status == "pending",
        M.claim_token == bindparam("token"),
        or_(M.expires_at.is_(None), M.expires_at > bindparam("at", type_=UTCDateTime())),
    )
    .values(
        status="sending",
        claimed_at=bindparam("at", type_=UTCDateTime()),
        attempts=M.attempts + 1,
        claim_token=None,
        claim_expires_at=None,
    )
)

#: An accepted message becomes ``sent`` over ``sending`` (the usual case), ``unknown`` (a
#: stale-row sweep or a read timeout raced the answer) and ``pending`` (reconciliation found
#: nothing yet while the call was still running); a status that moved further stands.
_SENT = (
    update(MESSAGE)
    .where(M.id == bindparam("sent_id"))
    .values(
        status=case((M.status == "sending", "sent"), (M.status == "unknown", "sent"), (M.status == "pending", "sent"), else_=M.status),
        provider_sid=func.coalesce(M.provider_sid, bindparam("sid", type_=MESSAGE.c.provider_sid.type)),
        provider_status=func.coalesce(M.provider_status, bindparam("accepted_status", type_=MESSAGE.c.provider_status.type)),
        sent_at=func.coalesce(M.sent_at, bindparam("accepted_at", type_=UTCDateTime())),
        claim_token=None,
        claim_expires_at=None,
    )
    .returning(M.status)
)

#: PostgreSQL: an accepted message's outcome and the next row's attempt in one statement, so
#: one round trip (in autocommit) instead of three (two statements and a commit).
_SENT_CTE = _SENT.cte("sent")
_ATTEMPTED_CTE = _ATTEMPT.returning(M.id).cte("attempted")
_SENT_AND_ATTEMPT = select(
    select(_SENT_CTE.c.status).scalar_subquery(), select(func.count()).select_from(_ATTEMPTED_CTE).scalar_subquery()
)

_RELEASE = (
    update(MESSAGE)
    .where(M.claim_token == bindparam("token"), M.status == "pending")
    .values(claim_token=None, claim_expires_at=None)
)

_STALE = (
    update(MESSAGE)
    .where(M.status == "sending", M.claimed_at < bindparam("threshold", type_=UTCDateTime()))
    .values(status="unknown", error_code="interrupted")
    .returning(M.id)
)


@dataclass(kw_only=True)
class Claim:
    """What one batch claim took (``rows``, to send, in due order) and what triage settled."""

    rows: list[DueRow] = field(default_factory=list)
    expired: int = 0
    withdrawn: int = 0
    postponed: int = 0

    @property
    def settled(self) -> int:
        return self.expired + self.withdrawn + self.postponed


def claim_batch(
    connection: Connection, *, token: str, now: datetime, lease: timedelta, size: int, rules: MessagingRules
) -> Claim:
    """Claim up to ``size`` due rows for ``token`` until ``now + lease``; triage the rest.

    Runs in the caller's transaction, which must be committed before any row is attempted
    (the claim is what keeps other dispatchers off these rows).
    """
    due = [DueRow(*row) for row in connection.execute(_DUE, {"now": now, "size": size})]
    claim = Claim()
    if not due:
        return claim
    opted_out = _ids(connection, _OPTED_OUT, {r.resident_id for r in due if r.resident_id is not None}, now)
    day_before = {r.booking_id for r in due if r.kind == "reminder_day_before" and r.booking_id is not None}
    superseded = _ids(connection, _LATER_REMINDER_DUE, day_before, now)
    settle: dict[str, list[int]] = defaultdict(list)
    postpone: dict[datetime, list[int]] = defaultdict(list)
    for row in due:
        decision = triage(
            row, now, rules, opted_out=row.resident_id in opted_out, later_reminder_due=row.booking_id in superseded
        )
        if decision.verdict is Verdict.SEND:
            claim.rows.append(row)
        elif decision.verdict is Verdict.POSTPONE:
            assert decision.due_at is not None
            postpone[decision.due_at].append(row.id)
        else:
            settle["expired" if decision.verdict is Verdict.EXPIRE else "withdrawn"].append(row.id)
    for status, ids in settle.items():
        connection.execute(_SETTLE, {"ids": ids, "new_status": status})
    for due_at, ids in postpone.items():
        connection.execute(_POSTPONE, {"ids": ids, "new_due_at": due_at})
    if claim.rows:
        connection.execute(_CLAIM, {"ids": [r.id for r in claim.rows], "token": token, "lease_end": now + lease})
    claim.expired = len(settle.get("expired", ()))
    claim.withdrawn = len(settle.get("withdrawn", ()))
    claim.postponed = sum(len(ids) for ids in postpone.values())
    return claim


def _ids(connection: Connection, query: object, ids: Iterable[int], now: datetime) -> set[int]:
    wanted = list(ids)
    if not wanted:
        return set()
    return set(connection.execute(query, {"ids": wanted, "now": now}).scalars())  # type: ignore[call-overload]


def attempt(connection: Connection, row_id: int, token: str, at: datetime) -> bool:
    """Mark a claimed row ``sending`` (attempted at ``at``) if it is still ours to send.

    False when the fence refuses: the row was re-claimed by another dispatcher after our
    lease lapsed, withdrawn, or expired since the claim. The caller must not send it then,
    and must commit before sending it otherwise.
    """
    return connection.execute(_ATTEMPT, {"row_id": row_id, "token": token, "at": at}).rowcount == 1


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider accepted this row's message (SID) in the call that left at ``at``."""

    row_id: int
    sid: str
    provider_status: str | None
    at: datetime


def record_sent(connection: Connection, accepted: Accepted) -> str | None:
    """Record an accepted message; return the row's status after.

    A status reconciliation or a callback already moved further (``delivered``...) stands;
    the first SID and send time recorded stand too.
    """
    return connection.execute(_SENT, _sent_parameters(accepted)).scalar_one_or_none()


def record_sent_and_attempt(
    connection: Connection, accepted: Accepted | None, row_id: int | None, token: str, at: datetime
) -> tuple[str | None, bool]:
    """:func:`record_sent` for ``accepted`` and :func:`attempt` for ``row_id``, together.

    Atomic either way: one statement on PostgreSQL, the caller's transaction on SQLite
    (in-process, where a statement costs no round trip).
    """
    if accepted is not None and row_id is not None and connection.dialect.name == "postgresql":
        parameters = {**_sent_parameters(accepted), "row_id": row_id, "token": token, "at": at}
        status, attempted = connection.execute(_SENT_AND_ATTEMPT, parameters).one()
        return status, attempted == 1
    status = record_sent(connection, accepted) if accepted is not None else None
    return status, attempt(connection, row_id, token, at) if row_id is not None else False


def _sent_parameters(accepted: Accepted) -> dict[str, object]:
    return {
        "sent_id": accepted.row_id, "sid": accepted.sid, "accepted_status": accepted.provider_status,
        "accepted_at": accepted.at,
    }


def release(connection: Connection, token: str) -> int:
    """Give back the rows of a claim that were never attempted (the run stopped early)."""
    return int(connection.execute(_RELEASE, {"token": token}).rowcount or 0)


def mark_stale(connection: Connection, threshold: datetime) -> list[int]:
    """Rows ``sending`` since before ``threshold`` become ``unknown``; their ids."""
    return list(connection.execute(_STALE, {"threshold": threshold}).scalars())


__all__ = ["Accepted", "Claim", "attempt", "claim_batch", "mark_stale", "record_sent", "record_sent_and_attempt", "release"]
