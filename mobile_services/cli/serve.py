"""`mobile-services serve`: the web app (Twilio webhooks, pages) under uvicorn.

On the embedded default the scheduler (outbox dispatch, which sends confirmations
and reminders; retention) runs inside this process too: :func:`background_jobs`
starts and stops it around the web server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn
from sqlalchemy import Engine

from config import Settings
from mobile_services.cli.common import configure_logging, console, open_engine, settings
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.web.app import create_app
from scheduler.runner import start_background


@contextmanager
def background_jobs(current: Settings, bus: MessageBus, engine: Engine, *, enabled: bool = True) -> Iterator[None]:
    """The embedded scheduler (DESIGN.md section 5) runs beside the web server, same bus.

    Disabled with ``--no-scheduler`` when the scheduler runs as its own process
    (``mobile-services scheduler``), e.g. with several web workers on PostgreSQL.
    """
    if not enabled:
        yield
        return
    scheduler, lock = start_background(bus, current, engine)
    try:
        yield
    finally:
        scheduler.shutdown(wait=True)
        lock.release()


def serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute (0.0.0.0 pour toutes les interfaces).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port d'écoute.")] = 8000,
    with_scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Lancer aussi les tâches planifiées (envoi des SMS...).")
    ] = True,
) -> None:
    """Lance l'application web : webhooks SMS de Twilio (/sms/inbound, /sms/status) et /healthz."""
    current = settings()
    configure_logging(current.log_level)
    engine = open_engine(current)
    app = create_app(current, engine=engine)
    if not current.twilio_auth_token.get_secret_value():
        console.print(
            "[yellow]MOBILE_SERVICES_TWILIO_AUTH_TOKEN n'est pas défini : les webhooks Twilio seront refusés (403).[/yellow]"
        )
    console.print(f"Application web sur http://{host}:{port} (adresse publique : {current.base_url})")
    try:
        with background_jobs(current, app.state.bus, engine, enabled=with_scheduler):
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level=current.log_level.lower(),
                access_log=False,  # it records client IP addresses: personal data once residents use the pages
                proxy_headers=True,
                server_header=False,
            )
    finally:
        engine.dispose()
