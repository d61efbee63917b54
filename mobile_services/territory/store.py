"""Writing validated territory data to the database, all or nothing.

Re-import semantics (upsert, never delete):

- communes are matched by INSEE code within the territory, sites by (commune, name),
  vehicles and counsellors by name within the territory, services by code;
- a matched row takes every value from the file (an empty optional cell means the
  default), except two things the files cannot carry: a commune's fragility index is
  kept when the file has none (geo.api.gouv.fr never gives one; a new commune gets
  0.5), and a counsellor's leave dates are kept;
- rows absent from the files are left alone: an import never deletes.

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

from mobile_services.storage.db import session_scope
from mobile_services.storage.tables import Commune, Counsellor, Organisation, Service, Site, Territory, Vehicle
from mobile_services.territory.catalogue import service_values
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


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportSummary:
    """What an import did, per kind of row."""

    organisation: str
    territory: str | None
    territory_created: bool = False
    counts: dict[str, KindCounts] = field(default_factory=lambda: {kind: KindCounts() for kind in KINDS})

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
        return f"{where}{created} — " + ("; ".join(parts) if parts else "rien à importer")


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
) -> ImportSummary:
    """Write ``data`` into the territory ``territory_name`` of ``organisation``, all or nothing.

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
                return _import(session, data, organisation, territory_name, progress)
        with target.begin_nested():
            return _import(target, data, organisation, territory_name, progress)
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
    log.info(
        "territory import into %r: %s",
        summary.territory,
        {kind: (c.created, c.updated, c.unchanged) for kind, c in summary.counts.items() if c.total},
    )
    return summary


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
            row = self._save(
                "sites",
                record,
                existing.get(key),
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
