"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from mobile_services.storage import db, tables


def test_upgrade_from_empty_then_downgrade_to_nothing(empty_database_url: str) -> None:
    db.upgrade(empty_database_url)
    assert db.current_revision(empty_database_url) is not None
    engine = db.make_engine(empty_database_url)
    names = set(inspect(engine).get_table_names())
    assert {"booking", "message", "slot", "visit", "commune", "inbound_message"} <= names
    engine.dispose()

    db.downgrade(empty_database_url, "base")
    engine = db.make_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_models_match_migrations(empty_database_url: str) -> None:
    db.upgrade(empty_database_url)
    engine = db.make_engine(empty_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, tables.metadata())
    engine.dispose()
    assert differences == []


def test_the_migrated_checks_accept_every_status_the_models_use(empty_database_url: str) -> None:
    # compare_metadata does not compare CHECK constraints: a status added to the models
    # without a migration would only fail on the first insert in production.
    db.upgrade(empty_database_url)
    engine = db.make_engine(empty_database_url)
    checks = {c["name"]: c["sqltext"] for c in inspect(engine).get_check_constraints("seat_hold")}
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("seat_hold")}
    engine.dispose()
    assert all(f"'{status}'" in checks["ck_seat_hold_status"] for status in tables.HOLD_STATUSES)
    assert indexes["uq_seat_hold_open_seat"]["unique"]
