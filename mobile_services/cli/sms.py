"""`mobile-services sms ...`: the outbox, seen and dispatched by hand."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.domain import commands
from mobile_services.domain.exceptions import InvalidInput
from mobile_services.domain.phones import mask, normalise_phone, territory_number
from mobile_services.service_layer.delivery import ReconciliationReport
from mobile_services.service_layer.dispatch import DispatchReport
from mobile_services.sms_simulation import Exchange, SimulatedPhone
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.ports import Clock, FixedClock, SystemClock

app = typer.Typer(help="SMS : file d'envoi (outbox), envoi et simulation d'un échange.", no_args_is_help=True)

#: The number a simulation writes from unless told otherwise (the demo resident's).
SIMULATED_PHONE = "+33612345678"
#: How the coordinator reads the SMS a booking queues for later.
_LATER_KINDS_FR = {"reminder_day_before": "rappel de la veille", "reminder_hours_before": "rappel du jour même"}
#: Typed alone in an interactive simulation, ends it (as does an empty line or Ctrl-D).
_END_WORDS = frozenset({"", "fin", "quitter", "exit", "quit"})


@app.command()
@friendly_errors
def dispatch(
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Nombre maximal de SMS à envoyer (par passe avec --all ; par défaut 100, ou 8 par envoi simultané)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="SMS confiés à Twilio en même temps (par défaut DISPATCH_CONCURRENCY)."),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Continuer par passes de --limit tant que des SMS sont dus.")
    ] = False,
) -> None:
    """Envoie une fois les SMS arrivés à échéance (le planificateur le fait toutes les 20 s).

    Plusieurs envois peuvent tourner en même temps, ici et ailleurs (sur PostgreSQL) :
    chaque SMS n'est pris que par un seul.
    """
    current = settings()
    if concurrency is not None:
        current = current.model_copy(update={"dispatch_concurrency": concurrency})
    total = DispatchReport()
    with engine_scope(current) as engine:
        bus = bootstrap(current, engine=engine)
        while True:
            report: DispatchReport = bus.handle(commands.DispatchDueMessages(limit=limit))
            total.add(report)
            if not everything or report.claimed + report.skipped < report.limit:
                break
    console.print(
        f"{total.sent} envoyé(s), {total.retried} à réessayer, {total.failed} en échec, "
        f"{total.unknown} incertain(s), {total.postponed} reporté(s) (heures calmes), {total.expired} expiré(s)."
    )


@app.command()
@friendly_errors
def reconcile() -> None:
    """Demande à Twilio ce que sont devenus les SMS à l'issue incertaine, sans jamais les renvoyer à l'aveugle.

    Le planificateur le fait toutes les 5 minutes. Un SMS que Twilio a bien reçu passe
    « envoyé » ; un SMS que Twilio n'a jamais reçu repart une seule fois.
    """
    current = settings()
    with engine_scope(current) as engine:
        report: ReconciliationReport = bootstrap(current, engine=engine).handle(commands.ReconcileUnknownMessages())
    console.print(
        f"{report.looked_up} SMS incertain(s) vérifié(s) : {report.sent} bien reçu(s) par Twilio, "
        f"{report.not_sent} jamais reçu(s) (renvoyé(s) au prochain envoi), {report.undecided} encore incertain(s)."
    )


@app.command()
def outbox(
    status: Annotated[str | None, typer.Option(help="Filtrer par statut (pending, sent, failed, unknown...).")] = None,
    limit: Annotated[int, typer.Option(help="Nombre de lignes.")] = 30,
    full: Annotated[bool, typer.Option("--full", help="Afficher les numéros et textes complets.")] = False,
) -> None:
    """Liste les SMS de la file d'envoi : ce qui part, ce qui est parti, ce qui a échoué."""
    current = settings()
    with engine_scope(current) as engine, Session(engine) as session:
        query = select(t.Message).order_by(col(t.Message.due_at).desc()).limit(limit)
        if status:
            query = query.where(t.Message.status == status)
        rows = session.exec(query).all()
    table = Table("Échéance", "Destinataire", "Type", "Statut", "Texte", show_lines=full)
    tz = current.tz
    for message in rows:
        body = message.body if full else (message.body[:60] + ("…" if len(message.body) > 60 else ""))
        table.add_row(
            f"{message.due_at.astimezone(tz):%d/%m %H:%M}",
            (message.recipient or "-") if full else mask(message.recipient),
            message.kind,
            message.status + (f" ({message.error_code})" if message.error_code else ""),
            body,
        )
    console.print(table)
    console.print(f"Journal des SMS envoyés en local : {current.data_dir / 'sms-outbox.log'}")


@app.command()
@friendly_errors
def simulate(
    messages: Annotated[
        list[str] | None,
        typer.Argument(help="SMS à envoyer dans l'ordre (entre guillemets) ; sans eux, saisie au clavier."),
    ] = None,
    sender: Annotated[str, typer.Option("--de", "--from", help="Numéro de l'habitant simulé.")] = SIMULATED_PHONE,
    to: Annotated[
        str | None,
        typer.Option("--vers", "--to", help="Numéro du service écrit (par défaut celui du territoire, s'il n'y en a qu'un)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--heure", "--at", help="Heure de Paris simulée, AAAA-MM-JJTHH:MM (par défaut maintenant)."),
    ] = None,
) -> None:
    """Joue l'habitant : chaque ligne part comme un SMS reçu, la réponse s'affiche.

    Le dialogue, les réservations et la file d'envoi sont les vrais (les RDV pris le sont
    vraiment, au numéro simulé) ; rien n'est envoyé : les SMS de la file s'affichent ici.
    """
    current = settings()
    try:
        phone = normalise_phone(sender)
    except InvalidInput:
        raise InvalidInput(f"invalid simulated sender {sender!r}", f"Numéro d'habitant invalide : « {sender} ».") from None
    clock = _simulation_clock(at, current.tz)
    with engine_scope(current) as engine:
        service_number = _service_number(engine, to)
        # The dialogue queues SMS in the outbox; dispatch never runs here, and the fake
        # sender makes sure nothing could leave the machine if it did.
        bus = bootstrap(current, engine=engine, sms=FakeSmsSender(), clock=clock)
        resident = SimulatedPhone(bus=bus, engine=engine, clock=clock, phone=phone, to_number=service_number)
        console.print(
            f"Simulation : habitant {phone} écrit au {service_number or 'numéro du service (tous territoires)'}."
            + ("" if messages else " Tapez vos SMS ; ligne vide ou « fin » pour arrêter.")
        )
        lines = messages if messages else _typed_lines()
        for text in lines:
            if messages or not sys.stdin.isatty():  # typed lines are on screen already
                console.print(f"[cyan]> {escape(text)}[/cyan]")
            _show(resident.send(text), current.tz)


def _typed_lines() -> Iterator[str]:
    """Lines typed by the coordinator (or piped in), until an empty line, « fin » or end of input."""
    while True:
        if sys.stdin.isatty():
            console.print("[cyan]> [/cyan]", end="")
        line = sys.stdin.readline()
        if not line or line.strip().lower() in _END_WORDS:
            return
        yield line.rstrip("\n")


def _show(exchange: Exchange, tz: ZoneInfo) -> None:
    for body in exchange.replies:
        console.print("< " + escape(body).replace("\n", "\n  "))
    for queued in exchange.queued_now:
        console.print("< " + escape(queued.body).replace("\n", "\n  ") + " [dim](par la file d'envoi)[/dim]")
    if not exchange.received:
        console.print("[dim](pas de réponse)[/dim]")
    for queued in exchange.queued_later:
        what = _LATER_KINDS_FR.get(queued.kind, f"SMS {queued.kind}")
        console.print(f"[dim]({what} prévu le {queued.due_at.astimezone(tz):%d/%m à %H:%M})[/dim]")


def _simulation_clock(at: str | None, tz: ZoneInfo) -> Clock:
    if at is None:
        return SystemClock()
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidInput(f"invalid --at {at!r}", f"Heure invalide : « {at} » (attendu AAAA-MM-JJTHH:MM).") from None
    return FixedClock(when if when.tzinfo is not None else when.replace(tzinfo=tz))


def _service_number(engine: Engine, to: str | None) -> str:
    """The number written to: the one given, else the only territory's, else none (every territory)."""
    if to is not None:
        number = territory_number(to)
        if number is None:
            raise InvalidInput(f"invalid service number {to!r}", f"Numéro du service invalide : « {to} ».")
        return number
    with Session(engine) as session:
        numbers = session.exec(select(t.Territory.sms_number)).all()
    return numbers[0] or "" if len(numbers) == 1 else ""
