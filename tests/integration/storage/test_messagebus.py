"""The message bus: commands propagate errors, events are isolated, events follow commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from mobile_services.domain.messages import Command, Event
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.service_layer.unit_of_work import _RECORDED, JoinedUnitOfWork, UnitOfWork, UnitOfWorkFactory, record
from mobile_services.storage.tables import EventLog, Organisation
from notifications.ports import FixedClock


@dataclass(frozen=True, kw_only=True)
class CreateOrganisation(Command):
    name: str
    fail_after_emit: bool = False


@dataclass(frozen=True, kw_only=True)
class OrganisationCreated(Event):
    organisation_id: int


def create_organisation(command: CreateOrganisation, *, uow: UnitOfWork) -> int:
    with uow:
        organisation = Organisation(name=command.name)
        uow.session.add(organisation)
        uow.session.flush()
        assert organisation.id is not None
        uow.emit(OrganisationCreated(organisation_id=organisation.id))
        if command.fail_after_emit:
            raise RuntimeError("boom before commit")
        uow.commit()
        return organisation.id


def failing_handler(event: OrganisationCreated) -> None:
    raise RuntimeError("this handler is broken")


CLOCK = FixedClock(datetime(2026, 12, 1, 9, tzinfo=UTC))


def make_bus(engine: Engine) -> MessageBus:
    return MessageBus(
        uow_factory=UnitOfWorkFactory(engine, CLOCK),
        command_handlers={CreateOrganisation: create_organisation},
        event_handlers={OrganisationCreated: [failing_handler]},
        dependencies={"clock": CLOCK},
    )


def test_command_result_returned_and_events_journaled_with_the_commit(engine: Engine) -> None:
    """The journal row is written in the command's own transaction: a failing handler after it
    changes nothing, and no transaction is spent on the journal."""
    bus = make_bus(engine)
    transactions: list[object] = []

    def count(connection: object) -> None:
        transactions.append(connection)

    event.listen(engine, "commit", count)
    try:
        organisation_id = bus.handle(CreateOrganisation(name="CC Creuse Sud-Ouest"))
    finally:
        event.remove(engine, "commit", count)
    assert len(transactions) == 1
    with UnitOfWorkFactory(engine)() as uow:
        journal = uow.session.exec(select(EventLog)).all()
        organisation = uow.session.get(Organisation, organisation_id)
    assert organisation is not None
    assert [entry.name for entry in journal] == ["OrganisationCreated"]
    assert journal[0].payload == {"organisation_id": organisation_id}
    assert journal[0].occurred_at == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_events_of_a_savepoint_are_journaled_by_the_unit_that_commits_them(engine: Engine) -> None:
    """An SMS books through a savepoint: its events reach the journal once, with the SMS's commit."""
    factory = UnitOfWorkFactory(engine, CLOCK)
    outer = factory()
    with outer:
        inner = JoinedUnitOfWork(outer.session)
        with inner:
            inner.emit(OrganisationCreated(organisation_id=7))
            inner.commit()
        for produced in inner.collect_new_events():
            outer.emit(produced)
        with UnitOfWorkFactory(engine)() as reader:
            assert reader.session.exec(select(EventLog)).all() == []  # nothing before the commit
        outer.commit()
    with UnitOfWorkFactory(engine)() as reader:
        assert [entry.payload for entry in reader.session.exec(select(EventLog))] == [{"organisation_id": 7}]


def test_events_of_a_rolled_back_transaction_are_never_handled(engine: Engine) -> None:
    bus = make_bus(engine)
    with pytest.raises(RuntimeError, match="boom"):
        bus.handle(CreateOrganisation(name="CC Margeride", fail_after_emit=True))
    with UnitOfWorkFactory(engine)() as uow:
        assert uow.session.exec(select(Organisation)).all() == []
        assert uow.session.exec(select(EventLog)).all() == []
    assert not any(isinstance(message, OrganisationCreated) for message in bus.handled)


def test_handler_with_unknown_dependency_is_reported(engine: Engine) -> None:
    def needs_printer(command: CreateOrganisation, *, printer: object) -> None: ...

    bus = MessageBus(
        uow_factory=UnitOfWorkFactory(engine),
        command_handlers={CreateOrganisation: needs_printer},
        event_handlers={},
        dependencies={},
    )
    with pytest.raises(LookupError, match="printer"):
        bus.handle(CreateOrganisation(name="x"))


def test_events_recorded_on_the_session_follow_the_commit_of_its_unit_of_work(engine: Engine) -> None:
    """``record`` (deep inside a transaction) releases with the commit, like ``emit``; a rollback drops it."""
    factory = UnitOfWorkFactory(engine)
    uow = factory()
    with uow:
        record(uow.session, OrganisationCreated(organisation_id=1))
        uow.rollback()
        record(uow.session, OrganisationCreated(organisation_id=2))
        uow.commit()
    with uow:
        record(uow.session, OrganisationCreated(organisation_id=3))  # never committed
    assert uow.collect_new_events() == [OrganisationCreated(organisation_id=2)]
    with uow:
        uow.commit()
    assert uow.collect_new_events() == []


def test_a_savepoint_keeps_the_events_it_committed_and_drops_those_it_rolled_back(engine: Engine) -> None:
    """Inside an SMS's transaction: the caller's own events stay its own, a refused command's go."""
    with Session(engine) as session:
        record(session, OrganisationCreated(organisation_id=1))  # the caller's, before the savepoint
        refused = JoinedUnitOfWork(session)
        with refused:
            record(session, OrganisationCreated(organisation_id=2))
        done = JoinedUnitOfWork(session)
        with done:
            record(session, OrganisationCreated(organisation_id=3))
            done.commit()
        assert refused.collect_new_events() == []
        assert done.collect_new_events() == [OrganisationCreated(organisation_id=3)]
        assert session.info[_RECORDED] == [OrganisationCreated(organisation_id=1)]
