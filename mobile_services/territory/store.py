"""Writing validated territory data to the database, all or nothing.

Re-import semantics (upsert, never delete):

- communes are matched by INSEE code within the territory, sites by (commune, name),
  vehicles and counsellors by name within the territory, services by code;
- a matched row takes every value from the file (an empty optional cell means the
  default), except what the files may not carry: a commune's fragility index is
  kept when the file has none (geo.api.gouv.fr never gives one; a new commune gets
  0.5), so is its contour (CSV files have none), and a counsellor's leave dates are kept;
- rows absent from the files are left alone: an import never deletes, with one
  exception, the default sites below.

Default sites: after every import, a commune of the territory that has no site of its
own gets a default one (``site.is_default``): "Mairie" at its centre, usable by a bus
and by a counsellor by car, open the ``default_site_hours`` setting. A commune that has
sites of its own loses its default site: deleted, or, when visits already reference it
(plans, bookings), kept with no opening hours so that it is never planned again. A
commune left without any site of its own gets its default site back. A site imported
under the default site's name takes over its row (and its visits).

Everything happens in one transaction: any row error, reference error or database
error (turned into a :class:`TerritoryImportError` naming the row) leaves the
database exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, col, select

from config.settings import DEFAULT_SITE_HOURS, parse_week_hours
from mobile_services.service_layer import reference_data
from mobile_services.storage.db import session_scope
from mobile_services.storage.tables import Commune, Counsellor, Organisation, Service, Site, Territory, Vehicle, Visit
from mobile_services.territory.catalogue import seed_catalogue, service_values
from mobile_services.territory.departements import territory_name_for
from mobile_services.territory.errors import RowError, TerritoryImportError
from mobile_services.territory.formats import KIND_LABELS_FR
from mobile_services.territory.records import (
    CommuneRecord,
    CounsellorRecord,
    Origin,
    Record,
    ServiceRecord,
    SiteRecord,
    TerritoryData,
    VehicleRecord,
)

log = logging.getLogger(__name__)

KINDS = ("communes", "sites", "vehicles", "counsellors", "services")

#: Called as progress(kind, done, total) while rows are written.
Progress = Callable[[str, int, int], None]

M = TypeVar("M", bound=SQLModel)

#: Opening hours as stored in ``site.opening_hours``: {"0": [["09:00", "12:00"]], ...}
WeekHours = dict[str, list[list[str]]]

DEFAULT_SITE_NAME = "Mairie"
DEFAULT_SITE_KIND = "mairie"
#: How coordinators are told about default sites.
DEFAULT_SITE_FR = "lieu par défaut (Mairie, centre de la commune)"


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class DefaultSiteCounts:
    """What :func:`ensure_default_sites` did."""

    #: communes given a default site (a new one, or theirs back after losing their own sites)
    created: int = 0
    #: default sites replaced by the commune's own sites (deleted, or closed when visits reference them)
    replaced: int = 0
    #: communes of the territory on their default site afterwards
    in_use: int = 0


@dataclass
class ImportSummary:
    """What an import did, per kind of row."""

    organisation: str
    territory: str | None
    territory_created: bool = False
    counts: dict[str, KindCounts] = field(default_factory=lambda: {kind: KindCounts() for kind in KINDS})
    default_sites: DefaultSiteCounts = field(default_factory=DefaultSiteCounts)

    def default_sites_fr(self) -> str | None:
        """'lieu par défaut (...) : 12 commune(s), 3 créé(s), 2 remplacé(s) par...'; None when nothing to say."""
        counts = self.default_sites
        if not (counts.in_use or counts.created or counts.replaced):
            return None
        parts = [f"{counts.in_use} commune(s)"]
        if counts.created:
            parts.append(f"{counts.created} créé(s)")
        if counts.replaced:
            parts.append(f"{counts.replaced} remplacé(s) par les lieux importés")
        return f"{DEFAULT_SITE_FR} : " + ", ".join(parts)

    def french(self) -> str:
        parts = []
        for kind in KINDS:
            counts = self.counts[kind]
            if counts.total:
                parts.append(
                    f"{KIND_LABELS_FR[kind]} : {counts.created} créé(s), {counts.updated} mis à jour, "
                    f"{counts.unchanged} inchangé(s)"
                )
        where = f"territoire « {self.territory} »" if self.territory else "catalogue"
        created = " (nouveau)" if self.territory_created else ""
        text = f"{where}{created} — " + ("; ".join(parts) if parts else "rien à importer")
        defaults = self.default_sites_fr()
        return f"{text}; {defaults}" if defaults else text


def _fail(english: str, french: str) -> TerritoryImportError:
    """An error about the import as a whole, not about one row."""
    return TerritoryImportError([RowError(file="", line=None, field=None, reason=english, reason_fr=french)])


# --------------------------------------------------------------------------- entry point


def import_territory_data(
    target: Session | Engine,
    data: TerritoryData,
    *,
    organisation: str | Organisation,
    territory_name: str | None = None,
    progress: Progress | None = None,
    default_site_hours: WeekHours | None = None,
) -> ImportSummary:
    """Write ``data`` into the territory ``territory_name`` of ``organisation``, all or nothing.

    Then every commune of the territory without a site of its own gets its default site,
    open ``default_site_hours`` (``Settings.default_site_opening_hours``; the packaged
    default when None), and imported sites replace default ones (:func:`ensure_default_sites`).

    With an Engine, the import runs in its own transaction and commits. With a Session,
    it runs in a SAVEPOINT of the caller's transaction and does not commit: on error
    the savepoint is rolled back and the caller's session stays usable.

    The territory is ``territory_name``, else ``data.name``, else the communes'
    département ('Creuse (23)'), else the organisation's only territory; it is created
    when missing (with the communes' département). Raises TerritoryImportError.
    """
    try:
        if isinstance(target, Engine):
            with session_scope(target) as session:
                reference_data.forget_after_commit(session)
                return _import(session, data, organisation, territory_name, progress, default_site_hours)
        with target.begin_nested():
            reference_data.forget_after_commit(target)
            return _import(target, data, organisation, territory_name, progress, default_site_hours)
    except DBAPIError as exc:  # not attributable to a row (those are reported by _Writer), e.g. at commit
        log.warning("territory import failed in the database: %s", exc.orig.__class__.__name__)
        raise _fail(
            f"the database refused the import: {exc.orig.__class__.__name__}",
            f"la base de données a refusé l'import ({exc.orig.__class__.__name__}) ; rien n'a été enregistré",
        ) from None


def _import(
    session: Session,
    data: TerritoryData,
    organisation: str | Organisation,
    territory_name: str | None,
    progress: Progress | None,
    default_site_hours: WeekHours | None,
) -> ImportSummary:
    org = _organisation(session, organisation)
    territory, created = _territory(session, org, data, territory_name)
    summary = ImportSummary(
        organisation=org.name, territory=territory.name if territory else None, territory_created=created
    )
    writer = _Writer(session, territory, summary, progress)
    writer.check(data)
    writer.communes(data.communes)
    writer.sites(data.sites)
    writer.vehicles(data.vehicles)
    writer.counsellors(data.counsellors)
    writer.services(data.services)
    if not data.services and session.exec(select(Service.id).limit(1)).first() is None:
        # Without a service catalogue no stop can be split into bookable slots: an install
        # importing its communes and crews (no services.csv) starts from the default one,
        # as `territory generate` and the demo do.
        summary.counts["services"].created += len(seed_catalogue(session).created)
    if territory is not None:
        summary.default_sites = ensure_default_sites(session, territory, default_site_hours)
        summary.default_sites.replaced += writer.taken_over
    log.info(
        "territory import into %r: %s",
        summary.territory,
        {kind: (c.created, c.updated, c.unchanged) for kind, c in summary.counts.items() if c.total},
    )
    return summary


# --------------------------------------------------------------------------- default sites


def default_site_values(commune: Commune, hours: WeekHours) -> dict[str, Any]:
    """Every value of a commune's default site: at its centre, for a bus and a car alike.

    Kind ``mairie`` is not an outdoor-only kind and ``bus_parking`` is true, so the planner
    lets both a bus and a counsellor by car serve it.
    """
    return {
        "name": DEFAULT_SITE_NAME,
        "kind": DEFAULT_SITE_KIND,
        "address": "",
        "latitude": commune.latitude,
        "longitude": commune.longitude,
        "opening_hours": {day: [list(span) for span in spans] for day, spans in hours.items()},
        "market_day": None,
        "accessible": True,
        "has_power": False,
        "bus_parking": True,
        "is_default": True,
    }


def ensure_default_sites(
    session: Session, territory: Territory, hours: WeekHours | None = None
) -> DefaultSiteCounts:
    """Give each commune of ``territory`` without a site of its own its default site, and
    retire the default sites of communes that have their own.

    A retired default site that visits reference keeps its row (the visits keep their
    site) with no opening hours: the planner never offers a site with no opening. Anything
    that adds or removes sites should call this afterwards (every import does). Flushes,
    does not commit.
    """
    hours = hours if hours is not None else parse_week_hours(DEFAULT_SITE_HOURS)
    counts = DefaultSiteCounts()
    communes = session.exec(select(Commune).where(Commune.territory_id == territory.id)).all()
    if not communes:
        return counts
    sites: dict[int, list[Site]] = {c.id: [] for c in communes if c.id is not None}
    for site in session.exec(select(Site).where(col(Site.commune_id).in_(list(sites)))):
        sites[site.commune_id].append(site)
    default_ids = [s.id for rows in sites.values() for s in rows if s.is_default]
    referenced = (
        set(session.exec(select(Visit.site_id).where(col(Visit.site_id).in_(default_ids)).distinct()).all())
        if default_ids
        else set()
    )
    for commune in communes:
        rows = sites[commune.id]  # type: ignore[index]
        defaults = [s for s in rows if s.is_default]
        if any(not s.is_default for s in rows):
            for site in defaults:
                if site.id in referenced:
                    if site.opening_hours:
                        site.opening_hours = {}
                        session.add(site)
                        counts.replaced += 1
                else:
                    session.delete(site)
                    counts.replaced += 1
            continue
        values = default_site_values(commune, hours)
        counts.in_use += 1
        if not defaults:
            session.add(Site(commune_id=commune.id, **values))  # type: ignore[arg-type]
            counts.created += 1
            continue
        site = defaults[0]  # only one can exist: the name is unique within the commune
        if not site.opening_hours:
            counts.created += 1  # closed when the commune had sites of its own: back in use
        for name, value in values.items():
            if getattr(site, name) != value:
                setattr(site, name, value)
        session.add(site)
    session.flush()
    return counts


def _organisation(session: Session, organisation: str | Organisation) -> Organisation:
    if isinstance(organisation, Organisation):
        return organisation
    found = session.exec(select(Organisation).where(Organisation.name == organisation)).first()
    if found is None:
        found = Organisation(name=organisation)
        session.add(found)
        session.flush()
    return found


def _territory(
    session: Session, org: Organisation, data: TerritoryData, territory_name: str | None
) -> tuple[Territory | None, bool]:
    name = territory_name or data.name
    departements = data.departements()
    if name is None and data.communes:
        if len(departements) > 1:
            raise _fail(
                f"communes from several départements ({', '.join(departements)}): give a territory name",
                f"ces communes relèvent de plusieurs départements ({', '.join(departements)}) : "
                "précisez --territory NOM pour les réunir dans un même territoire",
            )
        name = territory_name_for(departements[0])
    if name is None:
        if not (data.sites or data.vehicles or data.counsellors):
            return None, False  # services only: the catalogue is shared
        existing = session.exec(select(Territory).where(Territory.organisation_id == org.id)).all()
        if len(existing) == 1:
            return existing[0], False
        raise _fail(
            "which territory? give a territory name",
            "quel territoire ? précisez --territory NOM"
            + (f" (existants : {', '.join(sorted(t.name for t in existing))})" if existing else ""),
        )
    found = session.exec(select(Territory).where(Territory.organisation_id == org.id, Territory.name == name)).first()
    if found is not None:
        return found, False
    departement = data.main_departement()
    if departement is None:
        raise _fail(
            f"territory '{name}' does not exist: import its communes first",
            f"le territoire « {name} » n'existe pas : importez d'abord ses communes",
        )
    territory = Territory(organisation_id=org.id, name=name, departement=departement)
    session.add(territory)
    session.flush()
    return territory, True


# --------------------------------------------------------------------------- writing

_CONSTRAINT_FIELDS = {
    "uq_commune_territory_insee": "insee_code",
    "uq_site_commune_name": "name",
    "uq_vehicle_territory_name": "name",
    "uq_counsellor_territory_name": "name",
}


class _Writer:
    def __init__(
        self, session: Session, territory: Territory | None, summary: ImportSummary, progress: Progress | None
    ):
        self.session = session
        self.territory = territory
        self.summary = summary
        self.progress = progress
        self.communes_by_code: dict[str, Commune] = {}
        #: default sites whose row an imported site of the same name took over
        self.taken_over = 0
        self.vehicles_by_name: dict[str, Vehicle] = {}
        if territory is not None:
            for commune in session.exec(select(Commune).where(Commune.territory_id == territory.id)):
                self.communes_by_code[commune.insee_code] = commune
            for vehicle in session.exec(select(Vehicle).where(Vehicle.territory_id == territory.id)):
                self.vehicles_by_name[vehicle.name] = vehicle

    # -- checks

    def check(self, data: TerritoryData) -> None:
        refused = TerritoryImportError.collect(
            data.problems(
                known_communes={code: (c.latitude, c.longitude) for code, c in self.communes_by_code.items()},
                known_vehicles={name: v.kind for name, v in self.vehicles_by_name.items()},
            )
        )
        if refused is not None:
            raise refused

    # -- helpers

    def _report(self, kind: str, done: int, total: int) -> None:
        if self.progress is not None and (done == total or done % 100 == 0):
            self.progress(kind, done, total)

    def _save(
        self, kind: str, record: Record, row: SQLModel | None, values: dict[str, Any], make: Callable[[], M]
    ) -> M:
        counts = self.summary.counts[kind]
        if row is None:
            row = make()
            self.session.add(row)
            counts.created += 1
        else:
            changed = False
            for name, value in values.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
                    changed = True
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
        self._flush(record)
        return row  # type: ignore[return-value]

    def _flush(self, record: Record) -> None:
        """Flush one row so that a database error names it."""
        try:
            self.session.flush()
        except IntegrityError as exc:
            origin = record.origin or Origin(file=f"({record.kind})")
            message = str(exc.orig)
            field_name = next((f for name, f in _CONSTRAINT_FIELDS.items() if name in message), None)
            if field_name is None and "UNIQUE" in message.upper():
                field_name = "insee_code" if record.kind == "commune" else "name"
            log.warning("territory import: database refused a %s row: %s", record.kind, exc.orig.__class__.__name__)
            raise TerritoryImportError(
                [
                    origin.error(
                        field_name,
                        f"the database refused this {record.kind}: it conflicts with an existing row",
                        "la base de données refuse cette ligne : elle entre en conflit avec une donnée existante "
                        "(doublon ajouté entre-temps ?)",
                    )
                ]
            ) from None
        except DBAPIError as exc:
            origin = record.origin or Origin(file=f"({record.kind})")
            log.warning("territory import: database error on a %s row: %s", record.kind, exc.orig.__class__.__name__)
            raise TerritoryImportError(
                [
                    origin.error(
                        None,
                        f"the database refused this {record.kind}: {exc.orig.__class__.__name__}",
                        f"la base de données refuse cette ligne ({exc.orig.__class__.__name__})",
                    )
                ]
            ) from None

    def _territory_id(self) -> int:
        assert self.territory is not None and self.territory.id is not None
        return self.territory.id

    # -- kinds

    def communes(self, records: Iterable[CommuneRecord]) -> None:
        records = list(records)
        for done, record in enumerate(records, 1):
            values: dict[str, Any] = {
                "name": record.name,
                "postcodes": list(record.postcodes),
                "population": record.population,
                "latitude": record.latitude,
                "longitude": record.longitude,
            }
            if record.fragility is not None:
                values["fragility"] = record.fragility
            if record.contour is not None:  # kept when the file has none (CSV files never do)
                values["contour"] = record.contour
            existing = self.communes_by_code.get(record.insee_code)
            row = self._save(
                "communes",
                record,
                existing,
                values,
                lambda: Commune(territory_id=self._territory_id(), insee_code=record.insee_code, **values),  # noqa: B023
            )
            self.communes_by_code[record.insee_code] = row
            self._report("communes", done, len(records))

    def sites(self, records: Iterable[SiteRecord]) -> None:
        records = list(records)
        if not records:
            return
        commune_ids = [c.id for c in self.communes_by_code.values()]
        existing = {
            (site.commune_id, site.name): site
            for site in self.session.exec(select(Site).where(col(Site.commune_id).in_(commune_ids)))
        }
        for done, record in enumerate(records, 1):
            commune = self.communes_by_code[record.commune_insee]
            values: dict[str, Any] = {
                "kind": record.site_kind,
                "address": record.address,
                "latitude": record.latitude if record.latitude is not None else commune.latitude,
                "longitude": record.longitude if record.longitude is not None else commune.longitude,
                "opening_hours": record.opening_hours_json(),
                "market_day": record.market_day,
                "accessible": record.accessible,
                "has_power": record.has_power,
                "bus_parking": record.bus_parking,
            }
            key = (commune.id, record.name)
            found = existing.get(key)
            values["is_default"] = False
            if found is not None and found.is_default:
                # An imported site named like the default one takes over its row (visits
                # included): for the coordinator it is a new site.
                for name, value in values.items():
                    setattr(found, name, value)
                self.session.add(found)
                self.summary.counts["sites"].created += 1
                self.taken_over += 1
                self._flush(record)
                row = found
            else:
                row = self._save(
                    "sites",
                    record,
                    found,
                    values,
                    lambda: Site(commune_id=commune.id, name=record.name, **values),  # noqa: B023
                )
            existing[key] = row
            self._report("sites", done, len(records))

    def vehicles(self, records: Iterable[VehicleRecord]) -> None:
        records = list(records)
        for done, record in enumerate(records, 1):
            commune = self.communes_by_code[record.depot_commune_insee]
            values: dict[str, Any] = {
                "kind": record.vehicle_kind,
                "depot_name": record.depot_name or commune.name,
                "depot_latitude": record.depot_latitude if record.depot_latitude is not None else commune.latitude,
                "depot_longitude": record.depot_longitude if record.depot_longitude is not None else commune.longitude,
                "desks": record.desks,
                "shift_start_minute": record.shift_start_minute,
                "shift_end_minute": record.shift_end_minute,
                "max_driving_minutes": record.max_driving_minutes,
                "speed_kmh": record.speed_kmh,
                "cost_per_km": record.cost_per_km,
                "co2_g_per_km": record.co2_g_per_km,
                "equipment": list(record.equipment),
                "active": record.active,
            }
            row = self._save(
                "vehicles",
                record,
                self.vehicles_by_name.get(record.name),
                values,
                lambda: Vehicle(territory_id=self._territory_id(), name=record.name, **values),  # noqa: B023
            )
            self.vehicles_by_name[record.name] = row
            self._report("vehicles", done, len(records))

    def counsellors(self, records: Iterable[CounsellorRecord]) -> None:
        records = list(records)
        if not records:
            return
        existing = {
            c.name: c
            for c in self.session.exec(select(Counsellor).where(Counsellor.territory_id == self._territory_id()))
        }
        for done, record in enumerate(records, 1):
            commune = self.communes_by_code[record.home_commune_insee]
            vehicle = self.vehicles_by_name.get(record.vehicle) if record.vehicle else None
            values: dict[str, Any] = {
                "phone": record.phone,
                "home_latitude": record.home_latitude if record.home_latitude is not None else commune.latitude,
                "home_longitude": record.home_longitude if record.home_longitude is not None else commune.longitude,
                "skills": list(record.skills),
                "days_off": list(record.days_off),
                "unavailable_dates": [day.isoformat() for day in record.leave_days],
                "travel_mode": record.travel_mode,
                "vehicle_id": vehicle.id if vehicle else None,
                "active": record.active,
            }
            row = self._save(
                "counsellors",
                record,
                existing.get(record.name),
                values,
                lambda: Counsellor(territory_id=self._territory_id(), name=record.name, **values),  # noqa: B023
            )
            existing[record.name] = row
            self._report("counsellors", done, len(records))

    def services(self, records: Iterable[ServiceRecord]) -> None:
        records = list(records)
        if not records:
            return
        codes = [record.code for record in records]
        existing = {s.code: s for s in self.session.exec(select(Service).where(col(Service.code).in_(codes)))}
        for done, record in enumerate(records, 1):
            values = service_values(record)
            row = self._save(
                "services",
                record,
                existing.get(record.code),
                values,
                lambda: Service(code=record.code, **values),  # noqa: B023
            )
            existing[record.code] = row
            self._report("services", done, len(records))
