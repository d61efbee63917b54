"""`mobile-services incident ...` and `week changes` as a coordinator types them.

The week is published and booked through the service layer; the command line then runs
with the clock frozen on the Monday before (time-machine at the edge).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from sqlmodel import Session, select
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.storage import db
from mobile_services.storage import tables as t
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data
from tests.integration.planning.test_plan_week import NOW
from tests.integration.planning.test_safe_publish import book_published_week

runner = CliRunner()
WEEK = "2026-W49"


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str) -> Iterator[str]:
    """Week 49 published with two bookings (and a draft v2 nobody published); the CLI pointed at it."""
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILE_SERVICES_REPLAN_TIME_LIMIT_SECONDS", "2")
    db.upgrade(empty_database_url)
    engine = db.make_engine(empty_database_url)
    try:
        import_territory_data(engine, generate_territory(7, 12, buses=1, counsellors=3, name="Vallée test"), organisation="CC")
        seed_catalogue(engine)
        with Session(engine) as session:
            territory_id = session.exec(select(t.Territory)).one().id
        book_published_week(engine, territory_id)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    with time_machine.travel(NOW, tick=True):
        yield empty_database_url


def _said(text: str) -> str:
    return " ".join(text.split())


def test_a_broken_bus_is_declared_and_the_week_changes_are_printed_and_kept(published: str) -> None:
    engine = db.make_engine(published)
    with Session(engine) as session:
        bus_name = session.exec(select(t.Vehicle).where(t.Vehicle.kind == "bus")).one().name
    engine.dispose()

    result = runner.invoke(app, ["incident", "vehicle", bus_name.lower(), "--from", "01/12/2026 10:00", "--reason", "panne"])

    assert result.exit_code == 0, result.output
    said = _said(result.output)
    assert f"{WEEK} (v1 -> v3) : {bus_name} indisponible le 01/12 de 10:00 à la fin de la journée (panne)" in said
    assert "Publication de 2026-W49 v3 (remplace la v1)" in said
    assert "Rendez-vous :" in said and "SMS à envoyer :" in said

    again = runner.invoke(app, ["week", "changes", "--week", WEEK])
    assert again.exit_code == 0, again.output
    assert f"{bus_name} indisponible le 01/12" in _said(again.output)
    assert "Publication de 2026-W49 v3" in _said(again.output)


def test_an_unknown_vehicle_or_an_unreadable_date_is_one_french_line(published: str) -> None:
    unknown = runner.invoke(app, ["incident", "vehicle", "Bus Fantôme", "--from", "2026-12-01 10:00"])
    assert unknown.exit_code == 1
    assert "Véhicule « Bus Fantôme » introuvable ou ambigu (connus :" in _said(unknown.output)

    unreadable = runner.invoke(app, ["incident", "vehicle", "bus", "--from", "mardi dix heures"])
    assert unreadable.exit_code == 1
    assert "Date illisible : « mardi dix heures »" in _said(unreadable.output)

    nothing = runner.invoke(app, ["week", "changes", "--week", WEEK])
    assert nothing.exit_code == 0
    assert "Aucun imprévu n'a changé la semaine 2026-W49." in _said(nothing.output)
