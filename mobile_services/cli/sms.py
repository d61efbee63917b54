"""`mobile-services sms ...`: the outbox, seen and dispatched by hand."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session, col, select

from mobile_services.bootstrap import bootstrap
from mobile_services.cli.common import console, engine_scope, friendly_errors, settings
from mobile_services.domain import commands
from mobile_services.domain.phones import mask
from mobile_services.service_layer.delivery import ReconciliationReport
from mobile_services.service_layer.dispatch import DispatchReport
from mobile_services.storage import tables as t

app = typer.Typer(help="SMS : file d'envoi (outbox) et envoi.", no_args_is_help=True)


@app.command()
@friendly_errors
def dispatch(limit: Annotated[int, typer.Option(help="Nombre maximal de SMS à envoyer.")] = 100) -> None:
    """Envoie une fois les SMS arrivés à échéance (le planificateur le fait toutes les 20 s)."""
    current = settings()
    with engine_scope(current) as engine:
        report: DispatchReport = bootstrap(current, engine=engine).handle(commands.DispatchDueMessages(limit=limit))
    console.print(
        f"{report.sent} envoyé(s), {report.retried} à réessayer, {report.failed} en échec, "
        f"{report.unknown} incertain(s), {report.postponed} reporté(s) (heures calmes), {report.expired} expiré(s)."
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
