"""The database itself refuses what must never be stored, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, session_scope

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _territory(session: Session) -> t.Territory:
    organisation = t.Organisation(name="CC Creuse Grand Sud")
    session.add(organisation)
    session.flush()
    territory = t.Territory(organisation_id=organisation.id, name="Creuse Grand Sud", departement="23")
    session.add(territory)
    session.flush()
    return territory


def _visit_with_slot(session: Session, capacity: int = 2) -> tuple[t.Visit, t.Slot]:
    territory = _territory(session)
    commune = t.Commune(territory_id=territory.id, insee_code="23001", name="Ahun", latitude=46.08, longitude=2.02)
    session.add(commune)
    session.flush()
    site = t.Site(commune_id=commune.id, name="Mairie", latitude=46.08, longitude=2.02)
    vehicle = t.Vehicle(territory_id=territory.id, name="Bus 1", depot_latitude=46.1, depot_longitude=2.0)
    plan = t.Plan(territory_id=territory.id, week="2026-W49")
    session.add_all([site, vehicle, plan])
    session.flush()
    visit = t.Visit(
        plan_id=plan.id, site_id=site.id, day=date(2026, 12, 1), start_at=T0, end_at=T0 + timedelta(hours=3),
        vehicle_id=vehicle.id,
    )
    session.add(visit)
    session.flush()
    slot = t.Slot(visit_id=visit.id, start_at=T0, end_at=T0 + timedelta(minutes=30), capacity=capacity)
    session.add(slot)
    session.flush()
    return visit, slot


def _resident(session: Session, phone: str) -> t.Resident:
    resident = t.Resident(phone=phone)
    session.add(resident)
    session.flush()
    return resident


def _fails(engine: Engine, build: Callable[[Session], object]) -> None:
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            build(session)
            session.flush()


def test_insee_code_is_unique_within_a_territory(engine: Engine) -> None:
    def build(session: Session) -> None:
        territory = _territory(session)
        for name in ("Ahun", "Ahun bis"):
            session.add(t.Commune(territory_id=territory.id, insee_code="23001", name=name, latitude=46, longitude=2))

    _fails(engine, build)


def test_two_live_bookings_cannot_hold_one_seat(engine: Engine) -> None:
    def build(session: Session) -> None:
        visit, slot = _visit_with_slot(session)
        for phone, token in (("+33612345678", "a" * 32), ("+33612345679", "b" * 32)):
            resident = _resident(session, phone)
            session.add(
                t.Booking(slot_id=slot.id, visit_id=visit.id, resident_id=resident.id, seat=1, token=token)
            )
            session.flush()

    _fails(engine, build)


def test_a_cancelled_booking_frees_its_seat(engine: Engine) -> None:
    with session_scope(engine) as session:
        visit, slot = _visit_with_slot(session)
        first = _resident(session, "+33612345678")
        second = _resident(session, "+33612345679")
        session.add(
            t.Booking(slot_id=slot.id, visit_id=visit.id, resident_id=first.id, seat=1, token="a" * 32, status="cancelled")
        )
        session.add(t.Booking(slot_id=slot.id, visit_id=visit.id, resident_id=second.id, seat=1, token="b" * 32))
    with session_scope(engine) as session:
        assert len(session.exec(select(t.Booking)).all()) == 2


def test_one_live_booking_per_resident_per_visit(engine: Engine) -> None:
    def build(session: Session) -> None:
        visit, slot = _visit_with_slot(session, capacity=3)
        resident = _resident(session, "+33612345678")
        for seat, token in ((1, "a" * 32), (2, "b" * 32)):
            session.add(t.Booking(slot_id=slot.id, visit_id=visit.id, resident_id=resident.id, seat=seat, token=token))
            session.flush()

    _fails(engine, build)


def test_slot_capacity_and_times_are_checked(engine: Engine) -> None:
    def zero_capacity(session: Session) -> None:
        visit, _ = _visit_with_slot(session)
        session.add(t.Slot(visit_id=visit.id, start_at=T0, end_at=T0 + timedelta(minutes=30), capacity=0))

    def end_before_start(session: Session) -> None:
        visit, _ = _visit_with_slot(session)
        session.add(t.Slot(visit_id=visit.id, start_at=T0, end_at=T0 - timedelta(minutes=30)))

    _fails(engine, zero_capacity)
    _fails(engine, end_before_start)


def test_outbox_keys_and_provider_sids_are_unique(engine: Engine) -> None:
    def same_key(session: Session) -> None:
        for _ in range(2):
            session.add(t.Message(recipient="+33612345678", kind="confirmation", body="x", idempotency_key="k1", due_at=T0))
            session.flush()

    def same_sid(session: Session) -> None:
        for key in ("k1", "k2"):
            session.add(
                t.Message(recipient="+33612345678", kind="confirmation", body="x", idempotency_key=key, due_at=T0,
                          provider_sid="SM" + "0" * 32)
            )
            session.flush()

    _fails(engine, same_key)
    _fails(engine, same_sid)


def test_inbound_message_sid_is_stored_once(engine: Engine) -> None:
    def build(session: Session) -> None:
        for _ in range(2):
            session.add(t.InboundMessage(message_sid="SM" + "1" * 32, from_phone="+33612345678", body="RDV", received_at=T0))
            session.flush()

    _fails(engine, build)


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    _fails(engine, lambda session: session.add(t.Site(commune_id=999_999, name="Nowhere", latitude=0, longitude=0)))


def test_datetimes_come_back_aware_in_utc(engine: Engine) -> None:
    with session_scope(engine) as session:
        visit, _ = _visit_with_slot(session)
        visit_id = visit.id
    with session_scope(engine) as session:
        stored = session.get(t.Visit, visit_id)
        assert stored is not None
        assert stored.start_at == T0
        assert stored.start_at.tzinfo is not None


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with session_scope(engine) as session:
            session.add(t.InboundMessage(message_sid="SMx", body="", received_at=datetime(2026, 12, 1, 9)))
            session.flush()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The embedded default's engine, for SQLite-only behaviour."""
    engine = make_engine(f"sqlite:///{tmp_path / 'embedded.db'}")
    yield engine
    engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_write_transactions_take_the_lock_at_begin(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    with engine.connect() as first:
        first.execute(text("SELECT 1"))  # BEGIN IMMEDIATE already holds the write lock
        probe = engine.raw_connection()
        try:
            probe.driver_connection.execute("PRAGMA busy_timeout=50")
            with pytest.raises(Exception, match="locked"):
                probe.driver_connection.execute("BEGIN IMMEDIATE")
        finally:
            probe.close()
