"""`mobile-services territory ...`: import, download, generate and show territory data.

Messages to the coordinator are French; logs are English. Every command gets its
database through ``open_engine()`` (settings, migrations) and exits with code 1 and a
French explanation when the data is refused: nothing is written in that case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from mobile_services.cli.common import console, friendly_errors, open_engine, settings
from mobile_services.domain.exceptions import InvalidInput, NotFound
from mobile_services.domain.phones import territory_number
from mobile_services.service_layer import reference_data
from mobile_services.storage.db import session_scope
from mobile_services.storage.tables import Commune, Counsellor, Organisation, Service, Site, Territory, Vehicle
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.departements import DEPARTEMENTS
from mobile_services.territory.errors import RowError
from mobile_services.territory.fetch import GEO_API_URL, fetch_departement
from mobile_services.territory.formats import KIND_LABELS_FR, load_files, write_csv_files
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.records import TerritoryData
from mobile_services.territory.store import DEFAULT_SITE_FR, KINDS, ImportSummary, import_territory_data

DEFAULT_ORGANISATION = "Mon organisation"
SHOWN_WARNINGS = 10

app = typer.Typer(
    help="Données du territoire : communes, lieux, véhicules, conseillers et services.",
    no_args_is_help=True,
)

TerritoryOption = Annotated[
    str | None, typer.Option("--territory", "-t", help="Nom du territoire (par défaut : celui du département).")
]
OrganisationOption = Annotated[
    str | None,
    typer.Option(
        "--organisation", "-o", help="Organisation (par défaut : la seule existante, sinon « Mon organisation »)."
    ),
]


# --------------------------------------------------------------------------- helpers


@contextmanager
def _engine() -> Iterator[Engine]:
    engine = open_engine()
    try:
        yield engine
    finally:
        engine.dispose()


def _organisation_name(engine: Engine, wanted: str | None) -> str:
    if wanted:
        return wanted
    with Session(engine) as session:
        names = sorted(session.exec(select(Organisation.name)).all())
    if len(names) > 1:
        raise InvalidInput(
            f"several organisations exist ({len(names)}): give --organisation",
            f"Plusieurs organisations existent ({', '.join(names)}) : précisez --organisation NOM.",
        )
    return names[0] if names else DEFAULT_ORGANISATION


def _print_warnings(warnings: list[RowError]) -> None:
    for warning in warnings[:SHOWN_WARNINGS]:
        console.print(f"[yellow]Attention : {escape(warning.french())}[/yellow]")
    if len(warnings) > SHOWN_WARNINGS:
        console.print(f"[yellow]… et {len(warnings) - SHOWN_WARNINGS} autre(s) avertissement(s).[/yellow]")


def _print_summary(summary: ImportSummary) -> None:
    where = f"territoire « {summary.territory} »" if summary.territory else "catalogue des services"
    state = " (créé)" if summary.territory_created else ""
    organisation = escape(summary.organisation)
    console.print(f"[green]Import terminé[/green] : {escape(where)}{state}, organisation « {organisation} ».")
    table = Table()
    table.add_column("Données")
    table.add_column("Créées", justify="right")
    table.add_column("Mises à jour", justify="right")
    table.add_column("Inchangées", justify="right")
    for kind in KINDS:
        counts = summary.counts[kind]
        if counts.total:
            table.add_row(KIND_LABELS_FR[kind], str(counts.created), str(counts.updated), str(counts.unchanged))
    console.print(table)
    defaults = summary.default_sites_fr()
    if defaults:
        console.print(f"{defaults[0].upper()}{defaults[1:]}.")


def _import(engine: Engine, data: TerritoryData, *, organisation: str | None, territory: str | None) -> ImportSummary:
    org = _organisation_name(engine, organisation)
    hours = settings().default_site_opening_hours
    total = sum(data.counts().values())
    if not console.is_terminal or total < 500:
        return import_territory_data(
            engine, data, organisation=org, territory_name=territory, default_site_hours=hours
        )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as progress:
        tasks = {
            kind: progress.add_task(f"Enregistrement des {KIND_LABELS_FR[kind]}", total=count)
            for kind, count in data.counts().items()
            if count
        }

        def report(kind: str, done: int, _total: int) -> None:
            progress.update(tasks[kind], completed=done)

        return import_territory_data(
            engine, data, organisation=org, territory_name=territory, progress=report, default_site_hours=hours
        )


# --------------------------------------------------------------------------- commands


@app.command("import")
@friendly_errors
def import_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Fichiers à importer : JSON de geo.api.gouv.fr, ou CSV de communes, lieux, véhicules, "
            "conseillers, services (format reconnu d'après le contenu).",
            show_default=False,
        ),
    ],
    territory: TerritoryOption = None,
    organisation: OrganisationOption = None,
) -> None:
    """Importe des fichiers, tout ou rien : au moindre problème, rien n'est enregistré."""
    data, parsed = load_files(files, name=territory)
    for parsed_file in parsed:
        console.print(f"{escape(parsed_file.name)} : {parsed_file.label_fr}, {len(parsed_file.records)} ligne(s)")
        _print_warnings(parsed_file.warnings)
    with _engine() as engine:
        summary = _import(engine, data, organisation=organisation, territory=territory)
    _print_summary(summary)


@app.command("fetch")
@friendly_errors
def fetch(
    departement: Annotated[str, typer.Option("--departement", "-d", help="Code du département (ex. 23, 2A, 974).")],
    territory: TerritoryOption = None,
    organisation: OrganisationOption = None,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Adresse de l'API Découpage administratif.")
    ] = GEO_API_URL,
    save: Annotated[
        Path | None, typer.Option("--save", help="Enregistre aussi la réponse JSON dans ce fichier (ré-importable).")
    ] = None,
) -> None:
    """Télécharge les communes d'un département depuis geo.api.gouv.fr et les importe."""
    label = DEPARTEMENTS.get(departement.strip().upper(), departement)
    with console.status(f"Téléchargement des communes ({label})…"):
        communes = fetch_departement(departement, base_url=base_url, save_to=save)
    console.print(f"{len(communes)} communes téléchargées ({label}).")
    if save is not None:
        console.print(f"Réponse enregistrée dans {escape(str(save))} (ré-importable avec `territory import`).")
    with _engine() as engine:
        data = TerritoryData(name=territory, communes=communes)
        summary = _import(engine, data, organisation=organisation, territory=territory)
    _print_summary(summary)


@app.command("generate")
@friendly_errors
def generate(
    communes: Annotated[int, typer.Option("--communes", "-n", min=1, max=5000, help="Nombre de communes.")],
    seed: Annotated[int, typer.Option("--seed", "-s", help="Graine : même graine, même territoire.")] = 1,
    name: Annotated[str | None, typer.Option("--name", help="Nom du territoire.")] = None,
    buses: Annotated[int, typer.Option("--buses", min=0, max=50, help="Nombre de bus.")] = 2,
    counsellors: Annotated[
        int | None,
        typer.Option(
            "--counsellors", min=0, max=500, help="Nombre de conseillers (défaut : 2 par bus + 1 par 100 communes)."
        ),
    ] = None,
    departement: Annotated[str, typer.Option("--departement", help="Département des codes INSEE fictifs.")] = "23",
    out: Annotated[
        Path | None, typer.Option("--out", help="Écrit des fichiers CSV dans ce dossier au lieu de la base.")
    ] = None,
    organisation: OrganisationOption = None,
) -> None:
    """Génère un territoire rural de synthèse (démonstration, tests, mesures)."""
    try:
        data = generate_territory(
            seed, communes, buses=buses, counsellors=counsellors, name=name, departement=departement.upper()
        )
    except ValueError as exc:
        raise InvalidInput(f"generate: {exc}", f"Paramètres invalides : {exc}") from None
    counts = data.counts()
    described = ", ".join(f"{count} {KIND_LABELS_FR[kind]}" for kind, count in counts.items())
    if out is not None:
        paths = write_csv_files(data, out)
        console.print(f"Territoire « {escape(data.name or '')} » généré : {described}.")
        for path in paths:
            console.print(f"  {escape(str(path))}")
        console.print("Ré-importez-les avec : mobile-services territory import " + escape(" ".join(map(str, paths))))
        return
    with _engine() as engine:
        org = _organisation_name(engine, organisation)
        with session_scope(engine) as session:
            summary = import_territory_data(
                session,
                data.model_copy(update={"services": []}),
                organisation=org,
                territory_name=name,
                default_site_hours=settings().default_site_opening_hours,
            )
            seeded = seed_catalogue(session)
        summary.counts["services"].created = len(seeded.created)
        summary.counts["services"].unchanged = len(seeded.kept)
    console.print(f"Territoire « {escape(data.name or '')} » généré (graine {seed}) : {described}.")
    _print_summary(summary)


@app.command("catalogue")
def catalogue_command() -> None:
    """Ajoute au catalogue les services par défaut qui manquent (sans modifier les existants)."""
    with _engine() as engine:
        result = seed_catalogue(engine)
    console.print(
        f"Catalogue des services : {len(result.created)} ajouté(s), {len(result.kept)} déjà présent(s) (non modifiés)."
    )


@app.command("number")
@friendly_errors
def number_command(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="NUMERO",
            help="Numéro Twilio du territoire (07 56 00 00 01, +33 ... ou code court), espaces permis ; « aucun » pour le retirer.",
        ),
    ],
    territory: TerritoryOption = None,
    organisation: OrganisationOption = None,
) -> None:
    """Numéro SMS du territoire : un SMS reçu sur ce numéro ne cherche que ses communes."""
    # Numbers are written in pairs ("07 12 34 56 78"); unquoted, the shell splits them
    # into several arguments, which are one number here.
    number = " ".join(words)
    with _engine() as engine, session_scope(engine) as session:
        reference_data.forget_after_commit(session)
        row = _one_territory(session, territory, organisation)
        if number.strip().lower() in ("aucun", "none", ""):
            row.sms_number = None
        else:
            stored = territory_number(number)
            if stored is None:
                raise InvalidInput(f"invalid SMS number {number!r}", f"Numéro SMS invalide : « {number} ».")
            other = session.exec(select(Territory).where(Territory.sms_number == stored, Territory.id != row.id)).first()
            if other is not None:
                raise InvalidInput(
                    f"SMS number {stored} already belongs to territory {other.name!r}",
                    f"Le numéro {stored} est déjà celui du territoire « {other.name} ».",
                )
            row.sms_number = stored
        session.add(row)
        name, stored_number = row.name, row.sms_number
    if stored_number is None:
        console.print(f"Territoire « {escape(name)} » : plus de numéro SMS (les SMS cherchent dans tous les territoires).")
    else:
        console.print(f"Territoire « {escape(name)} » : numéro SMS {stored_number}.")


def _one_territory(session: Session, territory: str | None, organisation: str | None) -> Territory:
    """The territory named (or the only one); a French error when none or several match."""
    query = select(Territory).join(Organisation, Organisation.id == Territory.organisation_id)
    if territory:
        query = query.where(Territory.name == territory)
    if organisation:
        query = query.where(Organisation.name == organisation)
    rows = session.exec(query).all()
    if not rows:
        what = f"« {territory} »" if territory else "à configurer"
        raise NotFound(f"no territory {territory!r}", f"Aucun territoire {what}.")
    if len(rows) > 1:
        names = ", ".join(sorted(r.name for r in rows))
        raise InvalidInput(
            "several territories: name one with --territory", f"Plusieurs territoires ({names}) : précisez --territory."
        )
    return rows[0]


@app.command("show")
@friendly_errors
def show(territory: TerritoryOption = None, organisation: OrganisationOption = None) -> None:
    """Affiche les territoires : communes, population, lieux, véhicules, conseillers."""
    with _engine() as engine, Session(engine) as session:
        query = select(Territory, Organisation.name).join(Organisation, Organisation.id == Territory.organisation_id)
        if territory:
            query = query.where(Territory.name == territory)
        if organisation:
            query = query.where(Organisation.name == organisation)
        rows = session.exec(query.order_by(Organisation.name, Territory.name)).all()
        services = session.exec(select(func.count()).select_from(Service)).one()
        if not rows and territory:
            raise NotFound(f"no territory named {territory!r}", f"Aucun territoire « {territory} ».")
        if not rows:
            console.print("Aucun territoire : importez des communes avec `territory import` ou `territory fetch`.")
        by_organisation: dict[str, list[Territory]] = {}
        for row, org_name in rows:
            by_organisation.setdefault(org_name, []).append(row)
        for org_name, territories in by_organisation.items():
            # Narrow enough for an 80-column terminal: long names wrap, numbers never do.
            table = Table(title=f"Organisation « {escape(org_name)} »")
            table.add_column("Territoire", overflow="fold")
            for column in ("Communes", "Habitants", "Lieux", "Bus", "Voitures", "Conseillers"):
                table.add_column(column, justify="right", no_wrap=True)
            for row in territories:
                label = row.name if row.departement in row.name else f"{row.name} ({row.departement})"
                table.add_row(escape(label), *(_format_int(v) for v in _stats(session, row)))
            console.print(table)
            for row in territories:
                on_default = _communes_on_default_site(session, row)
                if on_default:
                    communes = "commune" if on_default == 1 else "communes"
                    console.print(
                        f"« {escape(row.name)} » : {_format_int(on_default)} {communes} sur le {DEFAULT_SITE_FR} ; "
                        "un fichier de lieux le remplace."
                    )
                if row.sms_number:
                    console.print(f"Numéro SMS de « {escape(row.name)} » : {row.sms_number}")
        console.print(f"Services au catalogue : {services}")


def _stats(session: Session, territory: Territory) -> tuple[int, ...]:
    communes, population = session.exec(
        select(func.count(), func.coalesce(func.sum(Commune.population), 0)).where(Commune.territory_id == territory.id)
    ).one()
    own_sites = session.exec(
        select(func.count())
        .select_from(Site)
        .join(Commune, Commune.id == Site.commune_id)
        .where(Commune.territory_id == territory.id, Site.is_default == False)  # noqa: E712
    ).one()
    sites = own_sites + _communes_on_default_site(session, territory)  # the sites a plan can use
    buses = session.exec(
        select(func.count()).select_from(Vehicle).where(Vehicle.territory_id == territory.id, Vehicle.kind == "bus")
    ).one()
    cars = session.exec(
        select(func.count()).select_from(Vehicle).where(Vehicle.territory_id == territory.id, Vehicle.kind == "car")
    ).one()
    counsellors = session.exec(
        select(func.count()).select_from(Counsellor).where(Counsellor.territory_id == territory.id)
    ).one()
    return communes, population, sites, buses, cars, counsellors


def _communes_on_default_site(session: Session, territory: Territory) -> int:
    """Communes of ``territory`` with a default site and no site of their own."""
    own = select(Site.id).where(Site.commune_id == Commune.id, Site.is_default == False)  # noqa: E712
    default = select(Site.id).where(Site.commune_id == Commune.id, Site.is_default == True)  # noqa: E712
    return session.exec(
        select(func.count())
        .select_from(Commune)
        .where(Commune.territory_id == territory.id, default.exists(), ~own.exists())
    ).one()


def _format_int(value: int) -> str:
    return f"{int(value):,}".replace(",", "\u202f")
