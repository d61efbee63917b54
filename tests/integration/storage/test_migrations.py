"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from mobile_services.storage import db, tables

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


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


def test_0005_gives_existing_communes_without_a_site_their_default_site(empty_database_url: str) -> None:
    db.upgrade(empty_database_url, "0004")
    engine = db.make_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO organisation (id, name, created_at) VALUES (1, 'CC', :now)"), {"now": NOW})
        connection.execute(
            text("INSERT INTO territory (id, organisation_id, name, departement, created_at) VALUES (1, 1, 'T', '23', :now)"),
            {"now": NOW},
        )
        for commune_id, code in ((1, "23001"), (2, "23002"), (3, "23003")):
            connection.execute(
                text(
                    "INSERT INTO commune (id, territory_id, insee_code, name, postcodes, population, latitude, longitude,"
                    " fragility) VALUES (:id, 1, :code, :code, '[]', 100, 46.1, 2.0, 0.5)"
                ),
                {"id": commune_id, "code": code},
            )
        connection.execute(
            text(
                "INSERT INTO site (commune_id, name, kind, address, latitude, longitude, opening_hours, accessible,"
                " has_power, bus_parking) VALUES (1, 'Place', 'parking', '', 46.1, 2.0, '{\"0\": [[\"08:00\", \"18:00\"]]}',"
                " true, false, true)"
            )
        )
    engine.dispose()

    db.upgrade(empty_database_url)
    engine = db.make_engine(empty_database_url)
    with Session(engine) as session:
        sites = {(s.commune_id, s.name): s for s in session.exec(select(tables.Site))}
        communes = {c.id: c.contour for c in session.exec(select(tables.Commune))}
    assert communes == {1: None, 2: None, 3: None}
    assert set(sites) == {(1, "Place"), (2, "Mairie"), (3, "Mairie")}
    assert not sites[(1, "Place")].is_default
    default = sites[(2, "Mairie")]
    assert default.is_default and default.kind == "mairie" and default.bus_parking
    assert (default.latitude, default.longitude) == (46.1, 2.0)
    assert default.opening_hours == {str(day): [["09:00", "12:00"], ["13:30", "17:00"]] for day in range(5)}
    with Session(engine) as session:  # a stop planned on commune 3's default site
        vehicle = tables.Vehicle(territory_id=1, name="Bus", depot_latitude=46.1, depot_longitude=2.0)
        plan = tables.Plan(territory_id=1, week="2026-W50")
        session.add_all([vehicle, plan])
        session.flush()
        session.add(
            tables.Visit(
                plan_id=plan.id,  # type: ignore[arg-type]
                site_id=sites[(3, "Mairie")].id,  # type: ignore[arg-type]
                day=NOW.date(),
                start_at=NOW,
                end_at=NOW.replace(hour=11),
                vehicle_id=vehicle.id,  # type: ignore[arg-type]
            )
        )
        session.commit()
    engine.dispose()

    db.downgrade(empty_database_url, "0004")  # default sites no visit references go, the others stay
    engine = db.make_engine(empty_database_url)
    with engine.connect() as connection:
        assert sorted(connection.execute(text("SELECT commune_id, name FROM site")).all()) == [(1, "Place"), (3, "Mairie")]
    assert "is_default" not in {c["name"] for c in inspect(engine).get_columns("site")}
    assert "contour" not in {c["name"] for c in inspect(engine).get_columns("commune")}
    engine.dispose()
