"""Unit of work: one database transaction, and the events it produced.

Handlers record events with :meth:`UnitOfWork.emit`; the bus collects them only after
a successful commit, so a rolled-back booking never triggers its confirmation.

Session-level rules that run deep inside other transactions (a seat hold let go while an
SMS is answered, a lapsed hold noticed while a publication looks for free seats) record
theirs with :func:`record` on the session they change: the unit of work owning that
session releases them with its own at commit and drops them on rollback, so an event is
emitted exactly where the state changes without threading a list through every caller.

Every event a unit of work releases is also written to the journal (``event_log``) in the
same transaction, when the unit has a clock (the bus's always has): the journal then holds
exactly the events whose changes were committed, and costs a row, not a transaction.
"""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, insert
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from mobile_services.domain.messages import Event
from mobile_services.storage.db import session_factory
from mobile_services.storage.tables import EventLog
from notifications.ports import Clock

#: Where :func:`record` keeps a session's events until its unit of work commits.
_RECORDED = "mobile_services.recorded_events"


def record(session: Session, event: Event) -> None:
    """Record ``event`` as a fact of the transaction ``session`` is in (see the module docstring)."""
    session.info.setdefault(_RECORDED, []).append(event)


def _recorded(session: Session) -> list[Event]:
    return session.info.setdefault(_RECORDED, [])


_JOURNAL = insert(EventLog.__table__)  # type: ignore[attr-defined]


def journal(session: Session, events: list[Event], clock: Clock) -> None:
    """Write ``events`` to the coordinators' journal, in the caller's transaction."""
    if events:
        now = clock.now()
        session.execute(
            _JOURNAL,
            [
                {"name": type(event).__name__, "payload": _jsonable(dataclasses.asdict(event)), "occurred_at": now}
                for event in events
            ],
        )


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v) for k, v in payload.items()}


class UnitOfWork:
    """A transaction on the application database, used as a context manager."""

    session: Session

    def __init__(self, factory: sessionmaker[Session], clock: Clock | None = None) -> None:
        self._factory = factory
        self._clock = clock
        self._pending: list[Event] = []
        self._committed: list[Event] = []

    def __enter__(self) -> Self:
        self.session = self._factory()
        self._pending = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, without expiring the objects
        # the handler loaded (they stay readable, detached, after the block).
        self._pending = []
        self.session.info.pop(_RECORDED, None)
        self.session.close()

    def emit(self, event: Event) -> None:
        """Record an event, released to the bus if and when this transaction commits."""
        self._pending.append(event)

    def commit(self) -> None:
        released = [*self._pending, *self.session.info.get(_RECORDED, [])]
        if self._clock is not None:
            journal(self.session, released, self._clock)
        self.session.commit()
        self.session.info.pop(_RECORDED, None)
        self._committed.extend(released)
        self._pending = []

    def rollback(self) -> None:
        self.session.rollback()
        self.session.info.pop(_RECORDED, None)
        self._pending = []

    def collect_new_events(self) -> list[Event]:
        events, self._committed = self._committed, []
        return events

    @property
    def engine(self) -> Engine:
        """The engine of this unit's sessions (for handlers that run Core statements)."""
        bind = self._factory.kw["bind"]
        assert isinstance(bind, Engine)
        return bind

    def sibling(self) -> UnitOfWork:
        """A unit of work on the same database for another thread (a unit is not thread-safe)."""
        return UnitOfWork(self._factory, self._clock)

    def adopt_events(self, events: list[Event]) -> None:
        """Release events a sibling committed as if this unit had (the bus only reads this one;
        the sibling's commit journaled them)."""
        self._committed.extend(events)


class UnitOfWorkFactory:
    """Makes one fresh UnitOfWork per message, so concurrent requests never share one."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._clock = clock
        """Journals the events of each unit's commit when set (the bus's clock)."""

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self._clock)


class JoinedUnitOfWork(UnitOfWork):
    """A command run inside a transaction already open (a savepoint of the caller's session).

    The SMS dialogue handles one inbound SMS in one transaction (the message stored once,
    the dialogue state, the booking), yet books, cancels, waits and opts out through the
    same command handlers as the web pages (``BookSlot``, ``CancelBooking``, ``JoinWaitlist``,
    ``SetOptOut``): those handlers open ``with uow:`` and ``commit()``, which here open and
    release a savepoint. A refusal rolls the savepoint back and leaves the caller's
    transaction usable; the events are released to the caller (``collect_new_events``), who
    emits them on its own unit of work, so they reach the bus only if the whole SMS commits.
    """

    def __init__(self, session: Session) -> None:
        self._outer = session
        self._clock = None  # the caller's unit journals these events when it commits
        self._pending = []
        self._committed = []
        self._savepoint: Any = None
        self._mark = 0

    def __enter__(self) -> Self:
        self.session = self._outer
        self._pending = []
        self._savepoint = self._outer.begin_nested()
        # events the caller recorded before the savepoint stay the caller's
        self._mark = len(_recorded(self._outer))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()  # not committed: nothing of it stays
            del _recorded(self._outer)[self._mark :]
        self._savepoint = None
        self._pending = []  # the caller's session stays open: it is the caller's

    def commit(self) -> None:
        self._outer.flush()
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.commit()
        self._savepoint = None
        self._committed.extend(self._pending)
        recorded = _recorded(self._outer)
        self._committed.extend(recorded[self._mark :])
        del recorded[self._mark :]
        self._pending = []

    def rollback(self) -> None:
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()
        del _recorded(self._outer)[self._mark :]
        self._savepoint = None
        self._pending = []
