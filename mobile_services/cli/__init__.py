"""The ``mobile-services`` command line (typer + rich)."""

from __future__ import annotations

from mobile_services.cli.main import app

__all__ = ["app"]
