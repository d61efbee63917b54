"""`mobile-services config show`: the effective settings, secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from mobile_services.cli.common import console, settings

app = typer.Typer(help="Réglages effectifs.", no_args_is_help=True)


@app.command()
def show() -> None:
    """Print every effective setting (defaults, TOML file and environment merged)."""
    table = Table("Réglage", "Valeur")
    for name, value in settings().masked().items():
        table.add_row(name, value)
    console.print(table)
