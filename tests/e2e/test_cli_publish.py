"""`mobile-services publish` as a coordinator (or a script) runs it, on a week with bookings.

The week is prepared through the service layer (plan v1, publish, two bookings, a draft v2
that moves one stop and drops another: tests/integration/planning/test_safe_publish.py);
the command line then runs with the clock frozen on that Monday (time-machine at the edge).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlmodel import Session, select
from click.testing import Result
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.cli import planning as planning_cli
from mobile_services.storage import db
from mobile_services.storage import tables as t
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data
from tests.integration.planning.test_plan_week import NOW
from tests.integration.planning.test_safe_publish import BookedWeek, book_published_week, database_rows

runner = CliRunner()
WEEK = "2026-W49"


@pytest.fixture
def booked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str) -> Iterator[tuple[BookedWeek, str]]:
    """A migrated database with week 49 published and booked, a draft v2 waiting; the CLI pointed at it."""
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    db.upgrade(empty_database_url)
    engine = db.make_engine(empty_database_url)
    try:
        import_territory_data(engine, generate_territory(7, 12, buses=1, counsellors=3, name="Vallée test"), organisation="CC")
        seed_catalogue(engine)
        with Session(engine) as session:
            territory_id = session.exec(select(t.Territory)).one().id
        week = book_published_week(engine, territory_id)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    with time_machine.travel(NOW, tick=True):
        yield week, empty_database_url


def _said(result: Result) -> str:
    """What the command printed, as one line (the console wraps at the terminal's width)."""
    return " ".join(result.output.split())


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = db.make_engine(url)
    try:
        return database_rows(engine)
    finally:
        engine.dispose()


def _statuses(url: str) -> dict[int, str]:
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            return {p.version: p.status for p in session.exec(select(t.Plan))}
    finally:
        engine.dispose()


def test_without_a_terminal_or_yes_a_publish_that_cancels_bookings_is_shown_and_refused(booked: tuple[BookedWeek, str]) -> None:
    _, url = booked
    before = _rows(url)
    result = runner.invoke(app, ["publish", "--week", WEEK])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in _said(result)
    assert "Publication de 2026-W49 v2 (remplace la v1)" in _said(result)
    assert "Rendez-vous : 0 gardé, 1 déplacé, 1 annulé" in _said(result)
    assert "annulé : " in _said(result) and "déplacé : " in _said(result)
    assert "SMS à envoyer : 2 (1 RDV annulé, 1 RDV déplacé)" in _said(result)
    assert "Rien n'a été publié" in _said(result) and "--yes" in _said(result)
    assert _rows(url) == before


def test_at_a_terminal_the_coordinator_is_asked(booked: tuple[BookedWeek, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = booked
    monkeypatch.setattr(planning_cli, "interactive", lambda: True)
    before = _rows(url)
    declined = runner.invoke(app, ["publish", "--week", WEEK], input="non\n")
    assert declined.exit_code == 1, declined.output
    assert "Publier 2026-W49 v2 et envoyer ces SMS ? (oui/non)" in _said(declined)
    assert "Publication annulée : rien n'a changé, aucun SMS envoyé." in _said(declined)
    assert _rows(url) == before
    accepted = runner.invoke(app, ["publish", "--week", WEEK], input="peut-être\noui\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Répondez oui ou non." in _said(accepted)
    assert "Plan 2026-W49 v2 publié" in _said(accepted)
    assert _statuses(url) == {1: "superseded", 2: "published"}


def test_yes_publishes_for_scripts_and_a_second_run_does_nothing(booked: tuple[BookedWeek, str]) -> None:
    _, url = booked
    published = runner.invoke(app, ["publish", "--week", WEEK, "--yes"])
    assert published.exit_code == 0, published.output
    assert "Rendez-vous : 0 gardé, 1 déplacé, 1 annulé" in _said(published)  # what it did
    assert "Plan 2026-W49 v2 publié" in _said(published)
    after = _rows(url)
    for _ in range(2):
        again = runner.invoke(app, ["publish", "--week", WEEK, "--yes"])
        assert again.exit_code == 0, again.output
        assert "Plan 2026-W49 v2 déjà publié (le 23/11/2026 à 10:00) : rien à faire." in _said(again)
    assert _rows(url) == after


def test_an_older_version_is_refused(booked: tuple[BookedWeek, str]) -> None:
    _, url = booked
    assert runner.invoke(app, ["publish", "--week", WEEK, "--yes"]).exit_code == 0
    after = _rows(url)
    older = runner.invoke(app, ["publish", "--week", WEEK, "--version", "1", "--yes"])
    assert older.exit_code == 1
    assert "La v1 de 2026-W49 est plus ancienne que la version publiée (v2)" in _said(older)
    assert "Traceback" not in _said(older)
    assert _rows(url) == after


def test_past_weeks_and_a_time_limit_that_is_not_positive_are_refused(booked: tuple[BookedWeek, str]) -> None:
    _, url = booked
    before = _rows(url)
    with time_machine.travel(datetime(2026, 12, 8, 9, 0, tzinfo=UTC), tick=True):
        late = runner.invoke(app, ["publish", "--week", WEEK, "--yes"])
        assert late.exit_code == 1 and "est passée : elle ne peut plus être publiée" in _said(late)
        replan = runner.invoke(app, ["plan", "--week", WEEK, "--time-limit", "1"])
        assert replan.exit_code == 1 and "est passée : elle ne peut plus être planifiée" in _said(replan)
    for seconds in ("0", "-3"):
        bad = runner.invoke(app, ["plan", "--week", "2026-W50", "--time-limit", seconds])
        assert bad.exit_code == 1, bad.output
        assert "Le temps de calcul (--time-limit) doit être un nombre de secondes positif" in _said(bad)
    assert _rows(url) == before
