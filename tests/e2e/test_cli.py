"""The command line a coordinator uses, end to end on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.storage import db

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str) -> str:
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    return empty_database_url


def test_demo_then_plan_publish_pin_and_outbox(cli_env: str) -> None:
    demo = runner.invoke(app, ["demo", "--communes", "15", "--time-limit", "2", "--week", "2026-W49"])
    assert demo.exit_code == 0, demo.output
    assert "Territoire « Pays de la Vallée (démo) » créé" in demo.output
    assert "Plan 2026-W49 publié" in demo.output
    assert "Communes visitées" in demo.output

    planned = runner.invoke(app, ["plan", "--week", "2026-W50", "--time-limit", "2"])
    assert planned.exit_code == 0, planned.output
    assert "Brouillon v1 enregistré" in planned.output
    visit_id = planned.output.split("#", 1)[1].split()[0]
    pinned = runner.invoke(app, ["pin", visit_id])
    assert pinned.exit_code == 0 and "épinglé" in pinned.output
    replanned = runner.invoke(app, ["plan", "--week", "2026-W50", "--time-limit", "2"])
    assert "(épinglé)" in replanned.output
    published = runner.invoke(app, ["publish", "--week", "2026-W50"])
    assert published.exit_code == 0 and "publié" in published.output

    outbox = runner.invoke(app, ["sms", "outbox"])
    assert outbox.exit_code == 0, outbox.output


def test_errors_are_one_french_line_not_a_trace(cli_env: str) -> None:
    bad_week = runner.invoke(app, ["plan", "--week", "2026-99"])
    assert bad_week.exit_code == 1
    assert "Semaine invalide" in bad_week.output
    no_territory = runner.invoke(app, ["plan", "--week", "2026-W49"])
    assert no_territory.exit_code == 1
    assert "Aucun territoire" in no_territory.output
    no_draft = runner.invoke(app, ["publish", "--week", "2026-W49"])
    assert "Traceback" not in no_draft.output


def test_invalid_setting_stops_with_one_line(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_TIMEZONE", "Europe/Atlantis")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["Invalid setting MOBILE_SERVICES_TIMEZONE: unknown time zone 'Europe/Atlantis'"]


def test_config_show_masks_secrets(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILE_SERVICES_TWILIO_AUTH_TOKEN", "s3cr3t-token")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "s3cr3t-token" not in result.output and "********" in result.output


def test_db_downgrade_and_upgrade(cli_env: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    down = runner.invoke(app, ["db", "downgrade", "base"])
    assert down.exit_code == 0 and "vide" in down.output
    assert runner.invoke(app, ["db", "current"]).output.strip() == "vide"
    up = runner.invoke(app, ["db", "upgrade"])
    head = ScriptDirectory.from_config(db.alembic_config(cli_env)).get_current_head()
    assert head is not None and head != "0001"  # the latest migration, whichever it is
    assert up.exit_code == 0 and f"révision {head}" in up.output
