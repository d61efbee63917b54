"""Outbox dispatch: send what is due, exactly once or visibly not at all, many at a time.

DESIGN.md section 4. One run (:func:`dispatch_due`):

1. Rows left ``sending`` longer than ``outbox_stale_after_seconds`` (longer than any
   provider call) were in flight when their dispatcher died: they become ``unknown``,
   and reconciliation (:mod:`mobile_services.service_layer.delivery`) asks the
   provider what became of them. Never resent blindly: Twilio has no idempotency key.
2. Due rows are **claimed in batches** (:func:`outbox_claims.claim_batch`): one
   statement, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several dispatcher processes
   share the outbox; triage (expiry, opt-out, quiet hours, a day-before reminder
   superseded by the two-hours-before one) is settled for the whole batch in a few
   set-based statements. Claimed rows stay ``pending`` with a token and a lease: a
   dispatcher killed before attempting them leaves them due to anyone once it lapses.
3. ``dispatch_concurrency`` **senders** (threads) take claimed rows one at a time. Each
   row is **attempted** (``sending``, committed, fenced on the claim's token) right
   before its own provider call; the outcome of an accepted message is committed with
   the next row's attempt (one commit per message instead of two). Outcomes: SID ->
   ``sent``; permanent error -> ``failed`` and the resident flagged when the number is
   the problem; 429/5xx/connection refused -> ``pending`` again with exponential
   backoff; read timeout -> ``unknown``.

Why threads: Twilio answers in 100-300 ms, so one sender tops out at a few messages a
second; N senders keep N requests in flight while the process mostly waits on sockets.
A kill therefore leaves at most ``dispatch_concurrency`` rows uncertain (each was
attempted, committed, before its call), never a batch: claimed-but-unattempted rows
are still ``pending``.

Connections (:class:`_Connections`): on PostgreSQL the senders share a few autocommit
connections for the run (an attempt, or an outcome plus the next attempt, is one
statement: one round trip); on SQLite the run's statements share one connection behind
a process lock (one writer at a time is SQLite's rule anyway).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.phones import mask
from mobile_services.service_layer import outbox_claims
from mobile_services.service_layer.booking import messaging_rules
from mobile_services.service_layer.outbox_triage import DueRow
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock, OutgoingSms, SendOutcome, SendResult, SmsSender
from scheduler.timing import MessagingRules, validity_seconds

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 30
MAX_BACKOFF_S = 3600
#: Rows claimed per sender and batch: enough that a claim (a few statements) costs little
#: per message, few enough that a crashed dispatcher's claims hold back little until their lease lapses.
CLAIM_PER_SENDER = 8
MAX_CLAIM = 100
#: Messages a run attempts by default: 100, or 8 per sender, so that many senders are not
#: left idle at the end of each run (its last calls) more than a few percent of the time.
DEFAULT_RUN = 100
RUN_PER_SENDER = 8
#: PostgreSQL connections a run's senders share for their statements (autocommit). One
#: statement holds one for a fraction of a millisecond while a provider call lasts
#: 100-300 ms, so a few serve dozens of senders without taking the application's pool.
STATEMENT_CONNECTIONS = 6


def run_size(concurrency: int) -> int:
    """How many messages one run attempts at most by default, for ``concurrency`` senders."""
    return max(DEFAULT_RUN, RUN_PER_SENDER * concurrency)


@dataclass(kw_only=True)
class DispatchReport:
    """What one dispatch run did (printed by the CLI, logged by the scheduler)."""

    limit: int = 0
    """The most rows this run could attempt: fewer attempted (or skipped) means nothing more was due."""
    claimed: int = 0
    """Rows attempted: marked ``sending`` right before their provider call."""
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    expired: int = 0
    postponed: int = 0
    withdrawn: int = 0
    stale: int = 0
    skipped: int = 0
    """Rows claimed but no longer ours at their attempt (withdrawn, expired, or re-claimed after the lease)."""
    outcomes: dict[int, str] = field(default_factory=dict)

    def add(self, other: DispatchReport) -> None:
        """Add another report's counts and outcomes to this one (one report per sender)."""
        for item in fields(self):
            if item.name == "outcomes":
                self.outcomes.update(other.outcomes)
            elif item.name == "limit":
                self.limit = max(self.limit, other.limit)
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def backoff(attempts: int, retry_after_s: float | None = None) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min... capped at 1 h), never below Retry-After."""
    seconds = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempts - 1))
    if retry_after_s is not None:
        seconds = max(seconds, int(retry_after_s))
    return timedelta(seconds=seconds)


# --------------------------------------------------------------------------- connections


class _Connections:
    """Where a run's Core statements go (see the module docstring for why two ways).

    - ``transaction()``: claims, the stale-row sweep, releases. One connection for the
      run, behind a lock (claims are one at a time anyway).
    - ``statement()``: a sender's attempts and outcomes. On PostgreSQL, one of at most
      ``STATEMENT_CONNECTIONS`` autocommit connections the senders share (one atomic
      statement is one round trip, no COMMIT; kept for the run, so no pool checkout, no
      pre-ping). On SQLite, the run's one connection, in a transaction, behind the same
      lock: one writer at a time is what SQLite does anyway, and queueing on a Python
      lock costs microseconds where its busy handler sleeps milliseconds.

    A run thus holds at most ``STATEMENT_CONNECTIONS + 1`` connections of the pool,
    however many senders it has.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._serial = engine.dialect.name != "postgresql"
        self._lock = threading.Lock()
        self._shared: Connection | None = None
        self._idle: list[Connection] = []
        self._statement_connections = 0
        self._returned = threading.Condition()
        self._opened: list[Connection] = []

    @contextmanager
    def serialised(self) -> Iterator[None]:
        """Hold the SQLite writer's place (a no-op on PostgreSQL), e.g. around an ORM transaction."""
        if self._serial:
            with self._lock:
                yield
        else:
            yield

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction on the run's shared connection, committed on exit."""
        with self._lock:
            if self._shared is None:
                self._shared = self._open(autocommit=False)
            with self._shared.begin():
                yield self._shared

    @contextmanager
    def statement(self) -> Iterator[Connection]:
        """Where a sender runs one atomic statement (autocommit on PostgreSQL)."""
        if self._serial:
            with self.transaction() as connection:
                yield connection
            return
        connection = self._borrow()
        try:
            yield connection
        finally:
            with self._returned:
                if connection.invalidated:  # the server went away: the next one opens afresh
                    self._statement_connections -= 1
                else:
                    self._idle.append(connection)
                self._returned.notify()

    def _borrow(self) -> Connection:
        with self._returned:
            while not self._idle and self._statement_connections >= STATEMENT_CONNECTIONS:
                self._returned.wait()
            if self._idle:
                return self._idle.pop()
            self._statement_connections += 1
        try:
            return self._open(autocommit=True)
        except BaseException:
            with self._returned:
                self._statement_connections -= 1
                self._returned.notify()
            raise

    def _open(self, *, autocommit: bool) -> Connection:
        connection = self._engine.connect()
        if autocommit:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        self._opened.append(connection)  # list.append is atomic: senders open theirs concurrently
        return connection

    def close(self) -> None:
        for connection in self._opened:
            connection.close()
        self._opened.clear()
        self._idle.clear()
        self._shared = None


# --------------------------------------------------------------------------- one run


class _Run:
    """What the senders of one run share: claimed rows waiting to be attempted, in due order.

    Claims happen on demand, one claimer at a time, outside the lock, when a sender finds
    nothing to take; taking a row is a short critical section, so a sender with an
    outcome to record never waits behind someone else's claim.

    Two messages to one number are never in flight together: a row waits while an
    earlier one to its recipient is being sent, so a resident still gets the
    confirmation before the cancellation acknowledgement, as with one sender.
    """

    def __init__(
        self, *, db: _Connections, sender: SmsSender, now: Callable[[], datetime], settings: Settings,
        limit: int, concurrency: int,
    ) -> None:
        self.db = db
        self.sender = sender
        self.now = now
        self.rules: MessagingRules = messaging_rules(settings)
        self.token = uuid.uuid4().hex
        self.lease = timedelta(seconds=settings.dispatch_claim_lease_seconds)
        self.batch = max(1, min(MAX_CLAIM, CLAIM_PER_SENDER * concurrency))
        self.report = DispatchReport()  # triage counts; senders keep their own
        self._remaining = limit
        self._queue: list[DueRow] = []
        self._in_flight: set[str] = set()
        self._changed = threading.Condition()
        self._claiming = False
        self._exhausted = False

    def take(self, *, wait: bool = True) -> DueRow | None:
        """The next row to attempt; None when nothing more is due (or, without ``wait``, ready).

        With ``wait``, claims a batch when no row is waiting, and waits while the only
        rows left are for numbers with a message in flight.
        """
        while True:
            with self._changed:
                row = self._pop_ready()
                if row is not None or not wait:
                    return row
                if self._claiming or (self._exhausted and self._queue):
                    self._changed.wait()  # a claim or a call ends soon
                    continue
                if self._exhausted:
                    return None
                self._claiming = True
            self._claim()

    def has_work(self) -> bool:
        """Claim a first batch if none is waiting; True when there is something to attempt."""
        with self._changed:
            if self._queue:
                return True
            self._claiming = True
        self._claim()
        with self._changed:
            return bool(self._queue)

    def done(self, row: DueRow) -> None:
        """The provider call for ``row`` has returned: its recipient's next message may leave."""
        with self._changed:
            self._in_flight.discard(row.recipient or "")
            self._changed.notify_all()

    def abort(self) -> None:
        """A sender failed (database error): the others finish their call and stop taking rows.

        The rows still waiting stay claimed until the run releases its claim.
        """
        with self._changed:
            self._exhausted = True
            self._queue.clear()
            self._changed.notify_all()

    def _pop_ready(self) -> DueRow | None:
        for index, row in enumerate(self._queue):
            if row.recipient not in self._in_flight:
                del self._queue[index]
                self._in_flight.add(row.recipient or "")
                return row
        return None

    def _claim(self) -> None:
        """Claim batches until one has rows to send or nothing is due (``_claiming`` is set)."""
        claimed: list[DueRow] = []
        nothing_due = False
        try:
            while not claimed and self._remaining > 0:
                with self.db.transaction() as connection:
                    claim = outbox_claims.claim_batch(
                        connection, token=self.token, now=self.now(), lease=self.lease,
                        size=min(self.batch, self._remaining), rules=self.rules,
                    )
                self.report.expired += claim.expired
                self.report.withdrawn += claim.withdrawn
                self.report.postponed += claim.postponed
                self._remaining -= len(claim.rows)
                claimed = claim.rows
                if not claimed and not claim.settled:
                    nothing_due = True
                    break
        finally:
            with self._changed:
                self._queue.extend(claimed)
                self._claiming = False
                if nothing_due or self._remaining <= 0 or not claimed:
                    self._exhausted = True
                self._changed.notify_all()


class _Sender:
    """One sender: attempt, call, record; the accepted outcome rides with the next attempt."""

    def __init__(self, run: _Run, uow: UnitOfWork) -> None:
        self.run = run
        self.uow = uow
        self.report = DispatchReport()
        self._accepted: outbox_claims.Accepted | None = None

    def work(self) -> DispatchReport:
        run = self.run
        try:
            while True:
                # With an outcome to record, take only a row already claimed: waiting for a
                # claim would leave an answered message looking in flight a little longer.
                row = run.take(wait=self._accepted is None)
                if row is None:
                    if self._accepted is None:
                        return self.report
                    self._record_accepted_alone()
                    continue
                at = run.now()
                try:
                    with run.db.statement() as connection:
                        status, attempted = outbox_claims.record_sent_and_attempt(
                            connection, self._accepted, row.id, run.token, at
                        )
                except BaseException:
                    run.done(row)  # never sent: its number must not stay "in flight" for the others
                    raise
                self._count_accepted(status)
                if not attempted:
                    run.done(row)
                    self.report.skipped += 1
                    logger.info("outbox %s changed since it was claimed: not sent by this dispatcher", row.id)
                    continue
                self.report.claimed += 1
                self._send(row, at)
        except BaseException:
            run.abort()
            raise
        finally:
            if self._accepted is not None:
                try:
                    self._record_accepted_alone()
                except Exception:  # noqa: BLE001 - do not hide the first error; the row stays "sending"
                    logger.exception(
                        "outbox %s was accepted but could not be recorded: reconciliation will find it",
                        self._accepted.row_id,
                    )

    def _send(self, row: DueRow, at: datetime) -> None:
        assert row.recipient is not None  # triage withdrew the others
        sms = OutgoingSms(
            to=row.recipient, body=row.body, idempotency_key=row.idempotency_key, outbox_id=row.id,
            validity_period_s=validity_seconds(at, row.expires_at),
        )
        try:
            result = self.run.sender.send(sms)
        except Exception:  # noqa: BLE001 - the request may have left: never resend blindly
            logger.exception("sender crashed on outbox %s", row.id)
            result = SendResult.unknown("sender raised")
        finally:
            self.run.done(row)
        logger.info("outbox %s (%s) to %s: %s", row.id, row.kind, mask(row.recipient), result.outcome.value)
        if result.outcome is SendOutcome.SENT and result.provider_sid:
            self._accepted = outbox_claims.Accepted(row.id, result.provider_sid, result.provider_status, at)
        else:
            with self.run.db.serialised():
                record_outcome(self.uow, row.id, result, at, self.report)

    def _count_accepted(self, status: str | None) -> None:
        if self._accepted is None:
            return
        self.report.sent += 1
        self.report.outcomes[self._accepted.row_id] = status or "sent"
        self._accepted = None

    def _record_accepted_alone(self) -> None:
        assert self._accepted is not None
        with self.run.db.statement() as connection:
            status = outbox_claims.record_sent(connection, self._accepted)
        self._count_accepted(status)


def dispatch_due(
    uow: UnitOfWork, sender: SmsSender, now: datetime, settings: Settings, *,
    limit: int | None = None, concurrency: int | None = None, clock: Clock | None = None,
) -> DispatchReport:
    """One dispatch run: at most ``limit`` messages (default :func:`run_size`) attempted by ``concurrency`` senders.

    ``now`` is the time of the whole run unless a ``clock`` is given, in which case each
    claim and each attempt reads it (attempt times then say when each call left).
    """
    concurrency = concurrency or settings.dispatch_concurrency
    limit = limit if limit is not None else run_size(concurrency)
    db = _Connections(uow.engine)
    run = _Run(
        db=db, sender=sender, now=clock.now if clock is not None else (lambda: now), settings=settings,
        limit=limit, concurrency=concurrency,
    )
    run.report.limit = limit
    try:
        run.report.stale = mark_stale_unknown(db, run.now(), settings)
        senders = [_Sender(run, uow if n == 0 else uow.sibling()) for n in range(concurrency)]
        if concurrency == 1 or not run.has_work():
            senders[0].work()
        else:
            with ThreadPoolExecutor(max_workers=concurrency - 1, thread_name_prefix="dispatch") as pool:
                helpers = [pool.submit(s.work) for s in senders[1:]]
                try:
                    senders[0].work()
                finally:
                    for helper in helpers:
                        helper.result()
        for one in senders:
            run.report.add(one.report)
            if one.uow is not uow:
                uow.adopt_events(one.uow.collect_new_events())
    finally:
        try:
            with db.transaction() as connection:
                outbox_claims.release(connection, run.token)  # only if a sender stopped early
        finally:
            db.close()
    return run.report


def mark_stale_unknown(db: _Connections, now: datetime, settings: Settings) -> int:
    """Rows left ``sending`` by a dispatcher that died mid-call become ``unknown``.

    ``sending`` is only ever set right before a provider call, so a row older than
    any call can take was in flight when its process died: the request may or may
    not have reached the provider, and only reconciliation can tell.
    """
    threshold = now - timedelta(seconds=settings.outbox_stale_after_seconds)
    with db.transaction() as connection:
        stale = outbox_claims.mark_stale(connection, threshold)
    for message_id in stale:
        logger.warning("outbox %s was in flight when its dispatcher stopped: unknown until reconciled", message_id)
    return len(stale)


def claim_next(uow: UnitOfWork, now: datetime, settings: Settings, report: DispatchReport) -> DueRow | None:
    """Claim and attempt the next sendable due row, committed, as a sender does right before its call.

    None when nothing is due. Tests stop here to play a dispatcher killed before or during
    its call: the row is left ``sending``, nothing else is claimed.
    """
    db = _Connections(uow.engine)
    run = _Run(db=db, sender=_NO_SENDER, now=lambda: now, settings=settings, limit=1, concurrency=1)
    try:
        row = run.take()
        report.expired += run.report.expired
        report.withdrawn += run.report.withdrawn
        report.postponed += run.report.postponed
        if row is None:
            return None
        with db.transaction() as connection:
            attempted = outbox_claims.attempt(connection, row.id, run.token, now)
        if not attempted:
            return None
        report.claimed += 1
        return row
    finally:
        db.close()


class _NoSender:
    def send(self, message: OutgoingSms) -> SendResult:  # pragma: no cover - never called
        raise AssertionError("claim_next never sends")


_NO_SENDER = _NoSender()


def record_outcome(uow: UnitOfWork, message_id: int, result: SendResult, now: datetime, report: DispatchReport) -> None:
    """Record any outcome through the ORM, in its own transaction (errors, retries, timeouts).

    Accepted messages take the Core fast path (:func:`outbox_claims.record_sent`); this one
    also flags an unreachable resident and emits :class:`events.ResidentUnreachable`.
    """
    with uow:
        session = uow.session
        message = session.get(t.Message, message_id)
        assert message is not None
        outcome = result.outcome
        if outcome is not SendOutcome.SENT and message.status not in ("sending", "unknown"):
            # Reconciliation settled it while the call hung: what it found stands.
            logger.warning("outbox %s already %s: late %s outcome ignored", message.id, message.status, outcome.value)
            return
        if outcome is SendOutcome.SENT:
            if message.provider_sid is None:
                message.provider_sid = result.provider_sid
            message.provider_status = message.provider_status or result.provider_status
            # "pending": reconciliation gave up on a call that outlived outbox_stale_after_seconds
            # and did find nothing yet; the provider has it after all, so it must not go again.
            if message.status in ("sending", "unknown", "pending"):
                message.status = "sent"
            message.sent_at = message.sent_at or now
            report.sent += 1
        elif outcome is SendOutcome.PERMANENT_ERROR:
            message.status = "failed"
            message.error_code = str(result.error_code) if result.error_code is not None else "permanent"
            report.failed += 1
            if result.recipient_unreachable and message.resident_id is not None:
                resident = session.get(t.Resident, message.resident_id)
                if resident is not None:
                    resident.unreachable = True
                    if result.error_code == 21610:
                        resident.opted_out = True
                    session.add(resident)
                    uow.emit(events.ResidentUnreachable(resident_id=resident.id, error_code=message.error_code))  # type: ignore[arg-type]
        elif outcome is SendOutcome.RETRYABLE:
            message.error_code = str(result.error_code or result.http_status or "retryable")
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                report.failed += 1
            else:
                message.status = "pending"
                message.due_at = now + backoff(message.attempts, result.retry_after_s)
                report.retried += 1
        else:
            message.status = "unknown"
            message.error_code = "timeout"
            report.unknown += 1
        report.outcomes[message_id] = message.status
        session.add(message)
        uow.commit()


def dispatch_due_messages(
    command: commands.DispatchDueMessages, *, uow: UnitOfWork, sms: SmsSender, clock: Clock, settings: Settings
) -> DispatchReport:
    return dispatch_due(uow, sms, clock.now(), settings, limit=command.limit, clock=clock)
