"""`mobile-services serve`: the web app (Twilio webhooks, pages) under uvicorn.

On the embedded default the scheduler (outbox dispatch, which sends confirmations
and reminders; retention) runs inside this process too: :func:`background_jobs`
starts and stops it around the web server.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess
from sqlalchemy import Engine

from config import Settings
from mobile_services.cli.common import (
    configure_logging,
    console,
    err_console,
    friendly_errors,
    open_engine,
    settings,
    setup_logging,
)
from mobile_services.domain.exceptions import InvalidInput
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.web.app import create_app
from scheduler.runner import start_background

logger = logging.getLogger(__name__)
LISTEN_BACKLOG = 2048  # uvicorn's default


@contextmanager
def background_jobs(current: Settings, bus: MessageBus, engine: Engine, *, enabled: bool = True) -> Iterator[None]:
    """The embedded scheduler (docs/DESIGN.md section 5) runs beside the web server, same bus.

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


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening, or a French error saying what to change.

    ``serve`` binds before it announces anything: a busy port or a foreign address stops it
    with one line, and no success line is ever printed for a server that is not listening.
    uvicorn then serves on this very socket (no second bind, so no race).
    """
    address = host.removeprefix("[").removesuffix("]")
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart at once
        sock.bind((address, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise _cannot_listen(host, port, exc) from None
    return sock


def _uvicorn_config(app: object, workers: int) -> uvicorn.Config:
    """One process serves ``app`` itself; several each build theirs from the environment."""
    return uvicorn.Config(
        app if workers == 1 else "mobile_services.web.app:create_app_from_environment",  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        log_config=None,  # uvicorn's lines go through our logging: to the file, English
        access_log=False,  # it records client IP addresses: personal data once residents use the pages
        proxy_headers=True,
        server_header=False,
    )


def _url_host(host: str) -> str:
    """``::1`` -> ``[::1]``, as in a URL."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _cannot_listen(host: str, port: int, exc: OSError) -> InvalidInput:
    """The French line for a failed bind: what went wrong and which option to change."""
    code = errno.errorcode.get(exc.errno or 0, exc.__class__.__name__)
    english = f"cannot listen on {host}:{port}: {code}"
    other_host = "choisissez-en une autre avec --host (127.0.0.1 : cette machine seule ; 0.0.0.0 : toutes ses interfaces)"
    if isinstance(exc, socket.gaierror):
        return InvalidInput(english, f"Adresse d'écoute « {host} » inconnue : {other_host}.")
    if exc.errno == errno.EADDRINUSE:
        return InvalidInput(
            english,
            f"Le port {port} est déjà utilisé sur {host} (un autre serveur tourne peut-être) : "
            "choisissez-en un autre avec --port.",
        )
    if exc.errno == errno.EACCES:
        reserved = " (les ports sous 1024 sont réservés à l'administrateur)" if port < 1024 else ""
        return InvalidInput(
            english, f"Le système refuse l'écoute sur le port {port}{reserved} : choisissez-en un autre avec --port, par exemple 8000."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return InvalidInput(english, f"L'adresse {host} n'est pas une adresse de cette machine : {other_host}.")
    if exc.errno == errno.EAFNOSUPPORT:
        return InvalidInput(english, f"IPv6 n'est pas disponible sur cette machine pour {host} : {other_host}.")
    return InvalidInput(
        english,
        f"Impossible d'écouter sur {host}:{port} (erreur système {code}) : choisissez une autre adresse avec --host "
        "ou un autre port avec --port.",
    )


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute (0.0.0.0 pour toutes les interfaces).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port d'écoute.")] = 8000,
    with_scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Lancer aussi les tâches planifiées (envoi des SMS...).")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Processus web (un par cœur environ ; plusieurs processus demandent PostgreSQL).",
        ),
    ] = 1,
) -> None:
    """Lance l'application web : webhooks SMS de Twilio (/sms/inbound, /sms/status) et /healthz."""
    current = settings()
    setup_logging(current)  # log lines held until the server listens, then live
    sqlite = current.effective_database_url.startswith("sqlite")
    if workers > 1 and sqlite:
        # SQLite takes one writer at a time: extra processes only queue on its lock.
        err_console.print(
            f"[yellow]--workers {workers} avec SQLite : les processus attendront chacun leur tour pour écrire ; "
            "pour plusieurs processus web, utilisez PostgreSQL (MOBILE_SERVICES_DATABASE_URL).[/yellow]",
            soft_wrap=True,
        )
    sock = listening_socket(host, port)
    try:
        engine = open_engine(current)  # migrates once, before any worker starts
        try:
            app = create_app(current, engine=engine)
            server = uvicorn.Server(_uvicorn_config(app, workers))
            if not current.twilio_auth_token.get_secret_value():
                console.print(
                    "[yellow]MOBILE_SERVICES_TWILIO_AUTH_TOKEN n'est pas défini : "
                    "les webhooks Twilio seront refusés (403).[/yellow]",
                    soft_wrap=True,
                )
            console.print(
                f"Application web sur http://{_url_host(host)}:{port} (adresse publique : {current.base_url}) ; Ctrl+C pour arrêter.",
                soft_wrap=True,
            )
            configure_logging(current)
            logger.info("web app listening on %s:%s (%d web process%s)", host, port, workers, "es" if workers > 1 else "")
            with background_jobs(current, app.state.bus, engine, enabled=with_scheduler):
                if workers == 1:
                    try:
                        server.run(sockets=[sock])
                    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down cleanly
                        pass
                    started = server.started
                else:
                    # uvicorn's supervisor: N spawned processes accept on this very socket,
                    # a worker that dies is replaced, and the scheduler stays here, once.
                    Multiprocess(server.config, sockets=[sock]).run()
                    started = True
        finally:
            engine.dispose()
    finally:
        sock.close()
    if not started:  # the app's start-up failed; uvicorn logged why
        err_console.print("[red]L'application web n'a pas pu démarrer : le détail est dans le journal technique.[/red]")
        raise typer.Exit(code=3)
    console.print("Application web arrêtée.")
