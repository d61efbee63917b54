"""The command line a coordinator uses, end to end on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from mobile_services.cli import app
from mobile_services.storage import db

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_database_url: str) -> Iterator[str]:
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    # Monday 23 November 2026: weeks 49 and 50 are still ahead (past weeks are refused).
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tick=True):
        yield empty_database_url


def test_demo_then_plan_publish_pin_and_outbox(cli_env: str) -> None:
    demo = runner.invoke(app, ["demo", "--communes", "15", "--time-limit", "2", "--week", "2026-W49"])
    assert demo.exit_code == 0, demo.output
    assert "Territoire « Pays de la Vallée (démo) » créé" in demo.output
    assert "Plan 2026-W49 publié" in demo.output
    assert "Communes visitées" in demo.output
    links = " ".join(demo.output.split())
    assert re.search(r"page de .+ : http://127\.0\.0\.1:8000/communes/\d{5}", links), links
    assert re.search(r"agenda de .+ : http://127\.0\.0\.1:8000/communes/\d{5}/calendar\.ics", links)
    assert re.search(r"chauffeur .+ : http://127\.0\.0\.1:8000/chauffeur/[A-Za-z0-9_-]{43}", links)
    assert re.search(r"conseiller .+ : http://127\.0\.0\.1:8000/conseiller/[A-Za-z0-9_-]{43}", links)
    [poster] = list((Path(os.environ["MOBILE_SERVICES_DATA_DIR"]) / "affiches").glob("affiche-*.pdf"))
    assert poster.name.split("-")[1].removesuffix(".pdf") in links

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


# The real command line, as a coordinator's terminal sees it: stdout and stderr of a process.

ENTRY = "from mobile_services.cli import app; app()"  # what the `mobile-services` script runs


def run_cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`mobile-services ARGS` in its own process, on a fresh data folder under ``tmp_path``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOBILE_SERVICES_")}
    env["MOBILE_SERVICES_DATA_DIR"] = str(tmp_path / "data")
    env.update({f"MOBILE_SERVICES_{name.upper()}": value for name, value in settings.items()})
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")


def assert_french_error_only(result: subprocess.CompletedProcess[str], first_line: str) -> None:
    """Non-zero exit, the French message first on stderr, no log line, no trace anywhere."""
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith(first_line), result.stderr
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert not LOG_LINE.search(stream), stream


def test_a_french_error_comes_first_and_the_english_log_goes_to_the_file(tmp_path: Path) -> None:
    unknown = run_cli(tmp_path, "plan", "--week", "2030-W10", "--territory", "Nulle Part")
    assert_french_error_only(unknown, "Territoire « Nulle Part » introuvable.")
    assert unknown.stderr.strip() == "Territoire « Nulle Part » introuvable.", "one line"

    communes = tmp_path / "communes.csv"
    communes.write_text(
        "code_insee,nom,population,latitude,longitude\n23096,Guéret,13000,46.17,1.87\n23001,Ajain,beaucoup,46.2,1.99\n",
        encoding="utf-8",
    )
    malformed = run_cli(tmp_path, "territory", "import", str(communes))
    assert_french_error_only(malformed, "Import refusé, rien n'a été enregistré")

    shown = run_cli(tmp_path, "config", "show")
    assert shown.returncode == 0 and shown.stderr == ""
    assert "MOBILE_SERVICES_LOG_CONSOLE_LEVEL" in shown.stdout

    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    assert "WARNING mobile_services.cli.planning: unknown territory 'Nulle Part'" in log
    assert "import rejected" in log
    assert "Running upgrade" in log  # the migrations of the first command, INFO by default


def test_the_demo_prints_no_log_line(tmp_path: Path) -> None:
    demo = run_cli(tmp_path, "demo", "--communes", "12", "--time-limit", "2", "--week", "2030-W10")
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr == ""
    assert not LOG_LINE.search(demo.stdout)
    # it ends by breaking down the bus of its own booking, and shows what the system did
    said = " ".join(demo.stdout.split())
    assert "Imprévu :" in said and "indisponible le" in said and "Rendez-vous :" in said
    log = (tmp_path / "data" / "mobile-services.log").read_text(encoding="utf-8")
    assert "published 2030-W10" in log
    assert "+33612345678" not in log, "no phone number in the log file"


def test_an_unexpected_error_is_one_french_line_and_its_trace_is_in_the_file(tmp_path: Path) -> None:
    # A bug, as any command could have one: `config show` on a settings object that breaks.
    failing = (
        "import config.settings as s\n"
        "def broken(self): raise KeyError('oops')\n"
        "s.Settings.masked = broken\n"
        + ENTRY
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOBILE_SERVICES_")}
    env["MOBILE_SERVICES_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-c", failing, "config", "show"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    log_file = tmp_path / "data" / "mobile-services.log"
    assert result.stderr.splitlines() == [
        f"Erreur inattendue (KeyError) : le détail est dans {log_file} ; transmettez-le à l'équipe technique."
    ]
    log = log_file.read_text(encoding="utf-8")
    assert "CRITICAL mobile_services.cli.common: unexpected error: KeyError" in log
    assert "Traceback" in log and "in broken" in log and "KeyError: 'oops'" in log


def test_log_settings_choose_the_terminal_level_and_the_file(tmp_path: Path) -> None:
    # The terminal can ask for the log lines too, as they come.
    verbose = run_cli(tmp_path, "plan", "--week", "2030-W10", "-t", "Nulle Part", log_console_level="INFO")
    assert verbose.returncode == 1
    assert "INFO alembic.runtime.migration: Running upgrade" in verbose.stderr
    assert verbose.stderr.strip().endswith("Territoire « Nulle Part » introuvable.")

    # The file keeps its own level...
    quiet_file = tmp_path / "quiet.log"
    run_cli(tmp_path, "plan", "--week", "2030-W10", "-t", "Nulle Part", log_level="WARNING", log_file=str(quiet_file))
    text = quiet_file.read_text(encoding="utf-8")
    assert "unknown territory" in text and " INFO " not in text

    # ...or there is none.
    none_dir = tmp_path / "none"
    none_dir.mkdir()
    no_file = run_cli(none_dir, "config", "show", log_file="-")
    assert no_file.returncode == 0
    assert not (none_dir / "data" / "mobile-services.log").exists()
