"""`mobile-services serve`: the web app (Twilio webhooks, pages) under uvicorn.

On the embedded default the scheduler (outbox dispatch, reminders, morning
itineraries) will run inside this process too: :func:`background_jobs` is the
hook where it starts and stops around the web server.
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


@contextmanager
def background_jobs(current: Settings, bus: MessageBus, engine: Engine) -> Iterator[None]:
    """Start what must run beside the web server for as long as it runs.

    Hook for the embedded scheduler (DESIGN.md section 5): start it here with the
    same bus, stop it after the ``yield``. Empty for now: nothing dispatches the
    outbox in ``serve`` yet.
    """
    yield


def serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute (0.0.0.0 pour toutes les interfaces).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port d'écoute.")] = 8000,
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
        with background_jobs(current, app.state.bus, engine):
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
