"""What every CLI command shares: settings, the engine, the console, error display."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from config import Settings, SettingsError, load_settings
from mobile_services.storage import db

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    """Effective settings; an invalid setting stops the command with one clear line."""
    try:
        return load_settings()
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
        logging.getLogger(__name__).error("database migration failed: %s", exc)
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
            logging.getLogger(func.__module__).warning("%s", exc)
            err_console.print(f"[red]{escape(exc.french())}[/red]")
            raise typer.Exit(code=1) from None

    return wrapper


