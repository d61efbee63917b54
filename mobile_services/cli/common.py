"""What every CLI command shares: settings, the engine, the console, error display."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from typer.exceptions import TyperException
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from config import Settings, SettingsError, load_settings
from mobile_services.storage import db

console = Console(highlight=False)
#: errors on stderr: one message, one line (the terminal wraps it; no hard breaks in logs or pipes)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    """Effective settings; an invalid setting stops the command with one clear line."""
    try:
        return load_settings()
    except SettingsError as exc:
        drop_held_log_lines()
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(code=2) from None


# Logging ------------------------------------------------------------------------------
#
# Logs are for maintainers: English, no personal data. They go to a rotated file (by default
# data/mobile-services.log, at ``log_level``); the terminal belongs to the coordinator, who
# reads French. The terminal shows log lines from ``log_console_level`` up (WARNING by
# default), but during a command at WARNING or above they wait until the command ends: shown
# then, dropped if the command stopped on a French error (they are in the file). So the first
# thing a coordinator sees of an error is its French line. Long-running commands (serve,
# scheduler) switch the terminal to live once started. A record logged with
# ``extra=SHOWN_IN_FRENCH`` has been told to the user already: it goes to the file only.

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
#: Libraries that log every request, job run or plugin at INFO: capped at WARNING, so the file
#: stays readable and holds only what we log ourselves (the Twilio client logs request URLs).
QUIET_LIBRARIES = ("alembic.runtime.plugins", "apscheduler", "httpx", "httpcore", "twilio", "urllib3")
SHOWN_IN_FRENCH = {"shown_in_french": True}


class _Console(logging.Handler):
    """Log lines on stderr, looked up at each write (test runners swap ``sys.stderr``).

    While ``held``, records wait in ``backlog`` until :meth:`stop_holding` (not named
    ``release``: that is the handler's lock).
    """

    def __init__(self, level: int, *, held: bool) -> None:
        super().__init__(level)
        self.held = held
        self.backlog: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        self.addFilter(lambda record: not getattr(record, "shown_in_french", False))

    def emit(self, record: logging.LogRecord) -> None:
        if self.held:
            self.backlog.append(record)
            return
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break a command
            self.handleError(record)

    def stop_holding(self, *, show: bool) -> None:
        """Stop holding: print the waiting records (``show``) or drop them (they are in the file)."""
        backlog, self.backlog, self.held = self.backlog, [], False
        if show:
            for record in backlog:
                self.emit(record)


class _LogFile(RotatingFileHandler):
    """The rotated log file, created (with its folder) on the first record.

    If it cannot be written, one French line says so and logging goes on without it.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.broken = False

    def _open(self):  # type: ignore[no-untyped-def]  # noqa: ANN202 - stdlib signature
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self.broken = True
        err_console.print(
            f"[yellow]Journal technique impossible à écrire dans {escape(self.baseFilename)} "
            f"({error.__class__.__name__}) : choisissez un autre fichier avec MOBILE_SERVICES_LOG_FILE.[/yellow]"
        )


_handlers: list[logging.Handler] = []
_levels_before: dict[str, int] = {}  # logger levels as they were before setup_logging
log_file_in_use: Path | None = None


def _console() -> _Console | None:
    return next((h for h in _handlers if isinstance(h, _Console)), None)


def _remove_handlers() -> list[logging.LogRecord]:
    """Take our handlers off the root logger; returns what the terminal still held."""
    root = logging.getLogger()
    console_handler = _console()
    backlog = console_handler.backlog if console_handler is not None else []
    for handler in _handlers:
        root.removeHandler(handler)
        handler.close()
    _handlers.clear()
    return backlog


def setup_logging(current: Settings, *, live: bool = False) -> None:
    """Log file and terminal as the settings ask; replaces what an earlier call installed.

    ``live``: the terminal shows log lines as they come (long-running commands) instead of
    holding them until the command ends (see the note above).
    """
    global log_file_in_use
    if not _handlers:
        _levels_before.clear()
        _levels_before.update({name: logging.getLogger(name).level for name in ("", *QUIET_LIBRARIES)})
    backlog = _remove_handlers()  # a command calling this again (serve) keeps what waits
    console_level = logging.getLevelName(current.log_console_level)
    console_handler = _Console(console_level, held=not live and console_level >= logging.WARNING)
    console_handler.backlog = backlog
    if not console_handler.held:
        console_handler.stop_holding(show=True)
    _handlers.append(console_handler)
    levels = [console_level]
    log_file_in_use = current.effective_log_file
    if log_file_in_use is not None:
        file_handler = _LogFile(log_file_in_use)
        file_handler.setLevel(logging.getLevelName(current.log_level))
        _handlers.append(file_handler)
        levels.append(file_handler.level)
    root = logging.getLogger()
    for handler in _handlers:
        root.addHandler(handler)
    root.setLevel(min(levels))
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(current: Settings | str) -> None:
    """Logging for a long-running command (serve, scheduler): file, and a live terminal.

    A level name (the older call) means "the effective settings".
    """
    setup_logging(current if isinstance(current, Settings) else settings(), live=True)


def drop_held_log_lines() -> None:
    """A French error is about to be shown: the English lines held back stay in the file only."""
    console_handler = _console()
    if console_handler is not None and console_handler.held:
        console_handler.backlog.clear()


def command_logging(ctx: typer.Context) -> None:
    """Logging for every command (the app's callback): set up before it, wound down after.

    With invalid settings nothing is set up: the command itself says which one, in one line.
    """
    try:
        current = load_settings()
    except SettingsError:
        return
    setup_logging(current)
    ctx.call_on_close(end_of_command)


def end_of_command() -> None:
    """The command's context closes, maybe while an exception is on its way out.

    Success: the held log lines are shown. A French error (typer.Exit) or an interruption:
    they stay in the file only. A bug: its trace goes to the file too (the app prints one
    French line, see :class:`CommandLine`). Then the handlers are removed and the logger
    levels restored, so a test runner invoking commands in-process is left as it was.
    """
    error = sys.exc_info()[1]
    succeeded = error is None or (isinstance(error, typer.Exit) and error.exit_code == 0)
    if isinstance(error, Exception) and not isinstance(error, typer.Exit | typer.Abort | TyperException):
        logging.getLogger(__name__).critical(
            "unexpected error: %s", error.__class__.__name__, exc_info=error, extra=SHOWN_IN_FRENCH
        )
    console_handler = _console()
    if console_handler is not None:
        console_handler.stop_holding(show=succeeded)
    _remove_handlers()
    for name, level in _levels_before.items():
        logging.getLogger(name).setLevel(level)


class CommandLine(typer.Typer):
    """The ``mobile-services`` app: a bug ends in one French line, its trace in the log file.

    Only the console script goes through here (``CliRunner`` calls the click command, so
    tests still get the exception). With MOBILE_SERVICES_LOG_CONSOLE_LEVEL=DEBUG the trace
    is printed as usual.
    """

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            try:
                debugging = load_settings().log_console_level == "DEBUG"
            except SettingsError:
                debugging = False
            if debugging:
                raise
            where = (
                f"le détail est dans {log_file_in_use}"
                if log_file_in_use is not None
                else "relancez avec MOBILE_SERVICES_LOG_CONSOLE_LEVEL=DEBUG pour voir le détail"
            )
            err_console.print(
                f"[red]Erreur inattendue ({exc.__class__.__name__}) : {escape(where)} ; "
                "transmettez-le à l'équipe technique.[/red]"
            )
            sys.exit(1)


def open_engine(current: Settings | None = None) -> Engine:
    """Engine on the configured database, migrated to the latest schema first.

    The embedded SQLite file is created on first use, so `mobile-services demo` works on
    a fresh machine with no set-up step.
    """
    current = current or settings()
    url = current.effective_database_url
    try:
        db.upgrade(url)
    except Exception as exc:  # noqa: BLE001 - shown to the user in one line
        logging.getLogger(__name__).error("database migration failed: %s", exc, extra=SHOWN_IN_FRENCH)
        drop_held_log_lines()
        err_console.print(f"[red]Base de données inaccessible ({db.safe_url(url)}) : {exc.__class__.__name__}[/red]")
        raise typer.Exit(code=2) from None
    return db.make_engine(url)


@contextmanager
def engine_scope(current: Settings | None = None) -> Iterator[Engine]:
    engine = open_engine(current)
    try:
        yield engine
    finally:
        engine.dispose()


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn expected domain errors into a French line and exit code 1, never a trace."""
    from mobile_services.domain.exceptions import UserFacingError

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserFacingError as exc:
            logging.getLogger(func.__module__).warning("%s", exc, extra=SHOWN_IN_FRENCH)
            drop_held_log_lines()
            err_console.print(f"[red]{escape(exc.french())}[/red]")
            raise typer.Exit(code=1) from None

    return wrapper


