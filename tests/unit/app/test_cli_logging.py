"""CLI logging: English lines to the file, the terminal kept for the coordinator's French."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from config import Settings
from mobile_services.cli import common

log = logging.getLogger("mobile_services.tests")


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Settings]:
    """Settings of a fresh data folder; our handlers removed afterwards."""
    yield Settings(data_dir=tmp_path / "data")
    common.end_of_command()


def _end_with(error: BaseException | None) -> None:
    """End the command as its context does, with ``error`` on its way out."""
    if error is None:
        common.end_of_command()
        return
    try:
        raise error
    except BaseException:  # noqa: BLE001 - end_of_command reads sys.exc_info()
        common.end_of_command()


def test_a_warning_is_shown_once_the_command_succeeded(logged: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    common.setup_logging(logged)
    log.warning("osrm slow, falling back")
    log.info("routine detail")
    assert capsys.readouterr().err == "", "held while the command runs"
    _end_with(None)
    assert capsys.readouterr().err == "WARNING mobile_services.tests: osrm slow, falling back\n"
    text = (logged.data_dir / "mobile-services.log").read_text(encoding="utf-8")
    assert "WARNING mobile_services.tests: osrm slow, falling back" in text
    assert "INFO mobile_services.tests: routine detail" in text


@pytest.mark.parametrize("error", [typer.Exit(code=1), typer.Exit(code=2), KeyError("bug"), KeyboardInterrupt()])
def test_log_lines_stay_in_the_file_when_the_command_stops_on_an_error(
    logged: Settings, capsys: pytest.CaptureFixture[str], error: BaseException
) -> None:
    common.setup_logging(logged)
    log.error("OSRM unreachable at http://osrm.local: ConnectError")
    _end_with(error)
    assert capsys.readouterr().err == ""
    assert "OSRM unreachable" in (logged.data_dir / "mobile-services.log").read_text(encoding="utf-8")


def test_exit_zero_is_a_success(logged: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    common.setup_logging(logged)
    log.warning("something to know")
    _end_with(typer.Exit(code=0))
    assert "something to know" in capsys.readouterr().err


def test_a_record_already_told_in_french_never_reaches_the_terminal(
    logged: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    common.configure_logging(logged)  # live, as serve and scheduler once started
    log.error("database migration failed: OperationalError", extra=common.SHOWN_IN_FRENCH)
    log.error("scheduled job dispatch failed")
    assert capsys.readouterr().err == "ERROR mobile_services.tests: scheduled job dispatch failed\n"
    assert "database migration failed" in (logged.data_dir / "mobile-services.log").read_text(encoding="utf-8")


def test_handlers_and_levels_are_restored_after_the_command(logged: Settings) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    common.setup_logging(logged)
    common.setup_logging(logged)  # a command setting up again (serve) replaces, never stacks
    assert len(root.handlers) == len(handlers) + 2
    _end_with(None)
    assert root.handlers == handlers and root.level == level


def test_an_unwritable_log_file_is_said_once_in_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    common.setup_logging(Settings(data_dir=tmp_path, log_file=str(blocker / "mobile-services.log")), live=True)
    try:
        log.warning("first")
        log.warning("second")
    finally:
        common.end_of_command()
    err = capsys.readouterr().err
    assert err.count("Journal technique impossible à écrire") == 1
    assert "MOBILE_SERVICES_LOG_FILE" in err and "Traceback" not in err
