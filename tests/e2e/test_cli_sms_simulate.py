"""`mobile-services sms simulate`: the coordinator plays a resident through the real dialogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from config import Settings

from mobile_services.cli import app
from mobile_services.storage import tables as t
from mobile_services.storage.db import make_engine, upgrade
from mobile_services.web.app import create_app
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import NOW, Valley, build_valley

runner = CliRunner()
AT = "2026-11-23T10:00"  # the valley's "now": Monday before its week


@pytest.fixture
def migrated_engine(empty_database_url: str) -> Iterator[Engine]:
    """The valley in a database migrated as the CLI migrates it (create_all would not be stamped)."""
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str, migrated_engine: Engine) -> Valley:
    valley = build_valley(migrated_engine)
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    return valley


def test_scripted_messages_book_for_real_and_show_the_queued_confirmation(cli_env: Valley, migrated_engine: Engine) -> None:
    result = runner.invoke(
        app, ["sms", "simulate", "--at", AT, "--from", "06 98 76 54 32", "RDV", "Châtel-Guyon", "1", "2", "OUI"]
    )
    assert result.exit_code == 0, result.output
    output = result.output
    assert "> RDV\n< Bonjour ! Ici le bus France Services (Pays de Guéret)." in output  # a first contact: who writes
    assert "répondez avec le nom de votre commune." in output
    assert "Confirmer le RDV CAF du jeu. 3 déc. à 9h30 à Chatel-Guyon ?" in output
    assert "RDV confirmé : CAF, jeu. 3 déc. à 9h30" in output and "(par la file d'envoi)" in output
    assert "(rappel de la veille prévu le 02/12 à 18:00)" in output  # not shown as received
    assert "(rappel du jour même prévu le 03/12 à 08:00)" in output  # 7:30 falls in the quiet hours
    with Session(migrated_engine) as session:
        booked = session.exec(select(t.Booking).join(t.Resident).where(t.Resident.phone == "+33698765432")).all()
        statuses = {m.status for m in session.exec(select(t.Message))}
    assert len(booked) == 1
    assert statuses == {"pending"}  # nothing was dispatched


def test_typed_lines_until_fin(cli_env: Valley) -> None:
    result = runner.invoke(app, ["sms", "simulate", "--at", AT], input="rdv\ncrocq\nfin\nrdv\n")
    assert result.exit_code == 0, result.output
    assert "> crocq\n< C'est noté : pas de passage prévu pour l'instant à Crocq." in result.output
    assert result.output.count("> rdv") == 1  # « fin » ended it


def test_bad_sender_or_time_is_one_french_line(cli_env: Valley) -> None:
    bad_sender = runner.invoke(app, ["sms", "simulate", "--from", "12", "RDV"])
    assert bad_sender.exit_code == 1 and "Numéro d'habitant invalide : « 12 »." in bad_sender.output
    bad_time = runner.invoke(app, ["sms", "simulate", "--at", "lundi", "RDV"])
    assert bad_time.exit_code == 1 and "Heure invalide : « lundi »" in bad_time.output


def test_a_booking_made_by_simulation_shows_in_the_outbox_and_on_its_booking_page(
    cli_env: Valley, migrated_engine: Engine, tmp_path: Path
) -> None:
    """End to end: the coordinator's simulated resident books; `sms outbox` lists the
    confirmation (pending: nothing is sent) and the booking page the SMS links to shows it."""
    result = runner.invoke(
        app, ["sms", "simulate", "--at", AT, "--from", "06 98 76 54 32", "bonjour je voudrais un rdv a chatel guyon pour la caf", "le deuxieme", "oui merci"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "RDV confirmé : CAF, jeu. 3 déc. à 9h30" in result.output
    outbox = runner.invoke(app, ["sms", "outbox", "--full"])
    assert outbox.exit_code == 0, outbox.output
    assert "confirmation" in outbox.output and "+33698765432" in outbox.output and "pending" in outbox.output
    with Session(migrated_engine) as session:
        booking = session.exec(select(t.Booking).join(t.Resident).where(t.Resident.phone == "+33698765432")).one()
        confirmation = session.exec(select(t.Message).where(t.Message.kind == "confirmation")).one()
    assert f"/r/{booking.token}" in confirmation.body
    settings = Settings(data_dir=tmp_path / "web", public_base_url="https://rdv.example.fr")
    with TestClient(create_app(settings, engine=migrated_engine, clock=FixedClock(NOW), sms=FakeSmsSender())) as client:
        page = client.get(f"/r/{booking.token}")
    assert page.status_code == 200
    assert "Châtel-Guyon" in page.text and "9h30" in page.text and "CAF" in page.text
