"""`mobile-services db ...`: schema migrations."""

from __future__ import annotations

import typer

from mobile_services.cli.common import console, settings
from mobile_services.storage import db

app = typer.Typer(help="Schéma de la base : migrations Alembic.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Migrate the database up to REVISION (default: latest)."""
    url = settings().effective_database_url
    db.upgrade(url, revision)
    console.print(f"Base {db.safe_url(url)} à la révision {db.current_revision(url)}")


@app.command()
def downgrade(revision: str = typer.Argument("base", help="Target revision ('base' drops every table)")) -> None:
    """Migrate the database down to REVISION."""
    url = settings().effective_database_url
    db.downgrade(url, revision)
    console.print(f"Base {db.safe_url(url)} à la révision {db.current_revision(url) or 'vide'}")


@app.command()
def current() -> None:
    """Print the current schema revision."""
    url = settings().effective_database_url
    console.print(db.current_revision(url) or "vide")
