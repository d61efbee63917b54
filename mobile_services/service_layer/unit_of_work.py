"""Unit of work: one database transaction, and the events it produced.

Handlers record events with :meth:`UnitOfWork.emit`; the bus collects them only after
a successful commit, so a rolled-back booking never triggers its confirmation.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from mobile_services.domain.messages import Event
from mobile_services.storage.db import session_factory


class UnitOfWork:
    """A transaction on the application database, used as a context manager."""

    session: Session

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
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
        self.session.close()

    def emit(self, event: Event) -> None:
        """Record an event, released to the bus if and when this transaction commits."""
        self._pending.append(event)

    def commit(self) -> None:
        self.session.commit()
        self._committed.extend(self._pending)
        self._pending = []

    def rollback(self) -> None:
        self.session.rollback()
        self._pending = []

    def collect_new_events(self) -> list[Event]:
        events, self._committed = self._committed, []
        return events


class UnitOfWorkFactory:
    """Makes one fresh UnitOfWork per message, so concurrent requests never share one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)
