"""Importing territory data into the database: all or nothing, upserts, references."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, text
from sqlmodel import Session, select

from mobile_services.storage.db import session_scope
from mobile_services.storage.tables import Commune, Counsellor, Organisation, Service, Site, Territory, Vehicle
from mobile_services.territory.catalogue import catalogue, seed_catalogue
from mobile_services.territory.errors import TerritoryImportError
from mobile_services.territory.formats import load_files
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.records import CommuneRecord, TerritoryData
from mobile_services.territory.store import import_territory_data

WriteFile = Callable[..., Path]
TABLES = (Organisation, Territory, Commune, Site, Vehicle, Counsellor, Service)


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}  # type: ignore[attr-defined]


def nothing_written(engine: Engine) -> bool:
    return all(value == 0 for value in counts(engine).values())


def refused(engine: Engine, data: TerritoryData, **kwargs: Any) -> TerritoryImportError:
    with pytest.raises(TerritoryImportError) as caught:
        import_territory_data(engine, data, organisation=kwargs.pop("organisation", "CC Val de Sédelle"), **kwargs)
    return caught.value


def test_a_full_file_set_imports_into_a_territory_named_after_the_departement(
    engine: Engine, sedelle_files: list[Path]
) -> None:
    data, _ = load_files(sedelle_files)
    summary = import_territory_data(engine, data, organisation="CC Val de Sédelle")
    assert summary.territory == "Creuse (23)" and summary.territory_created
    assert summary.french().startswith(
        "territoire « Creuse (23) » (nouveau) — communes : 8 créé(s), 0 mis à jour, 0 inchangé(s); lieux : 10 créé(s)"
    )
    assert {k: c.created for k, c in summary.counts.items()} == {
        "communes": 8,
        "sites": 10,
        "vehicles": 2,
        "counsellors": 3,
        "services": 2,
    }
    assert summary.french().endswith(
        "; lieu par défaut (Mairie, centre de la commune) : 1 commune(s), 1 créé(s)"
    )  # Peyrabout-le-Haut (23506) has no site in sites.csv
    assert counts(engine) == {
        "organisation": 1,
        "territory": 1,
        "commune": 8,
        "site": 11,
        "vehicle": 2,
        "counsellor": 3,
        "service": 2,
    }
    with Session(engine) as session:
        territory = session.exec(select(Territory)).one()
        assert territory.departement == "23"
        mazeau = session.exec(select(Commune).where(Commune.insee_code == "23505")).one()
        assert (mazeau.name, mazeau.postcodes, mazeau.population, mazeau.fragility) == (
            "Le Mazeau",
            ["23350", "23351"],
            612,
            0.5,
        )
        chambonnet = session.exec(select(Commune).where(Commune.insee_code == "23502")).one()
        mairie = session.exec(select(Site).where(Site.commune_id == chambonnet.id)).one()
        assert (mairie.latitude, mairie.longitude) == (
            chambonnet.latitude,
            chambonnet.longitude,
        )  # no coordinates given
        assert mairie.opening_hours == {"1": [["09:00", "12:00"]], "3": [["14:00", "17:00"]]}
        market = session.exec(select(Site).where(Site.name == "Place du marché")).one()
        assert (market.kind, market.market_day) == ("place_du_marche", 5)
        bus = session.exec(select(Vehicle).where(Vehicle.name == "Bus Sédelle")).one()
        car = session.exec(select(Vehicle).where(Vehicle.kind == "car")).one()
        assert car.depot_name == "Rozeille"  # default depot name: the commune
        claire = session.exec(select(Counsellor).where(Counsellor.name == "Claire Fayolle")).one()
        assert (claire.vehicle_id, claire.skills, claire.days_off, claire.phone) == (
            bus.id,
            ["caf", "ameli", "numerique_base"],
            [2],
            "+33199001234",
        )
        caf = session.exec(select(Service).where(Service.code == "caf")).one()
        assert caf.documents == ["numéro d'allocataire", "dernier avis d'imposition", "RIB"]


def test_reimporting_updates_by_insee_code_and_keeps_fragility(
    engine: Engine, data_dir: Path, write_file: WriteFile
) -> None:
    import_territory_data(engine, load_files([data_dir / "communes.csv"])[0], organisation="CC")
    json_text = (
        (data_dir / "val-de-sedelle.json").read_text(encoding="utf-8").replace('"population":187', '"population":190')
    )
    summary = import_territory_data(engine, load_files([write_file("maj.json", json_text)])[0], organisation="CC")
    assert (summary.counts["communes"].updated, summary.counts["communes"].unchanged) == (1, 7)
    assert not summary.territory_created
    with Session(engine) as session:
        chambonnet = session.exec(select(Commune).where(Commune.insee_code == "23502")).one()
        assert (chambonnet.population, chambonnet.fragility) == (190, 0.71)  # fragility not in the JSON: kept
    assert counts(engine)["commune"] == 8


def test_sites_can_refer_to_communes_already_in_the_database(engine: Engine, data_dir: Path) -> None:
    import_territory_data(engine, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
    summary = import_territory_data(engine, load_files([data_dir / "sites.csv"])[0], organisation="CC")
    assert summary.territory == "Creuse (23)"  # the organisation's only territory
    assert summary.counts["sites"].created == 10


def test_an_unknown_commune_rejects_the_whole_import(engine: Engine, data_dir: Path, write_file: WriteFile) -> None:
    sites = (data_dir / "sites.csv").read_text(encoding="utf-8").replace("\n23508;", "\n23999;")
    data, _ = load_files([data_dir / "val-de-sedelle.json", write_file("sites.csv", sites)])
    exc = refused(engine, data)
    assert [(e.file, e.line, e.field) for e in exc.errors] == [("sites.csv", 11, "code_insee")]
    assert "commune 23999 inconnue" in exc.french()
    assert nothing_written(engine)


def test_a_duplicate_insee_code_across_files_rejects_the_import(engine: Engine, data_dir: Path) -> None:
    data, _ = load_files([data_dir / "val-de-sedelle.json", data_dir / "communes.csv"])
    exc = refused(engine, data)
    assert len(exc.errors) == 8
    assert exc.errors[0].french() == (
        "communes.csv, ligne 2, champ « code_insee » : code INSEE « 23501 » en double, déjà vu (val-de-sedelle.json:2)"
    )
    assert nothing_written(engine)


def test_reference_errors_in_counsellors_are_all_reported(
    engine: Engine, data_dir: Path, write_file: WriteFile
) -> None:
    text = (data_dir / "conseillers.csv").read_text(encoding="utf-8")
    text = text.replace(";bus;Bus Sédelle;oui;2027", ";bus;Bus Fantôme;oui;2027").replace(
        ";23507;46,3150", ";23599;46,3150"
    )
    data, _ = load_files(
        [data_dir / "val-de-sedelle.json", data_dir / "vehicules.csv", write_file("conseillers.csv", text)]
    )
    exc = refused(engine, data)
    assert [(e.line, e.field) for e in exc.errors] == [(2, "vehicule"), (4, "commune_domicile")]
    assert nothing_written(engine)


def test_a_failed_reimport_leaves_the_previous_data_untouched(
    engine: Engine, data_dir: Path, write_file: WriteFile
) -> None:
    import_territory_data(engine, load_files([data_dir / "communes.csv"])[0], organisation="CC")
    before = counts(engine)
    csv = (data_dir / "communes.csv").read_text(encoding="utf-8-sig").replace(";187;", ";190;")
    bad_sites = "code_insee;nom;type;lundi\n23501;Mairie;mairie;9h-12h\n23598;Mairie;mairie;9h-12h\n"
    data, _ = load_files([write_file("communes.csv", csv), write_file("sites.csv", bad_sites)])
    refused(engine, data, organisation="CC")
    assert counts(engine) == before
    with Session(engine) as session:
        assert session.exec(select(Commune.population).where(Commune.insee_code == "23502")).one() == 187


def test_a_database_conflict_is_reported_on_its_row_and_rolls_everything_back(engine: Engine, data_dir: Path) -> None:
    """Another writer inserts commune 23505 between our checks and our insert (a race on PostgreSQL)."""
    data, _ = load_files([data_dir / "val-de-sedelle.json"])
    intruded: list[bool] = []

    def intrude(session: Session, _context: Any, _instances: Any) -> None:
        pending = [o for o in session.new if isinstance(o, Commune)]
        if pending and pending[0].insee_code == "23505" and not intruded:
            intruded.append(True)
            session.connection().execute(
                text(
                    "INSERT INTO commune (territory_id, insee_code, name, postcodes, population, latitude, longitude,"
                    " fragility) VALUES (:t, '23505', 'Intrus', '[]', 1, 46.2, 1.9, 0.5)"
                ),
                {"t": pending[0].territory_id},
            )

    event.listen(Session, "before_flush", intrude)
    try:
        exc = refused(engine, data)
    finally:
        event.remove(Session, "before_flush", intrude)
    assert intruded
    assert [(e.file, e.line, e.item, e.field) for e in exc.errors] == [("val-de-sedelle.json", 6, 5, "code")]
    assert "conflit" in exc.errors[0].reason_fr
    assert nothing_written(engine)  # the four communes flushed before, the organisation and territory too


def test_inside_a_callers_session_a_failure_rolls_back_only_the_import(
    engine: Engine, data_dir: Path, write_file: WriteFile
) -> None:
    bad_sites = write_file("sites.csv", "code_insee;nom;type;lundi\n23598;Mairie;mairie;9h-12h\n")
    with session_scope(engine) as session:
        session.add(Organisation(name="Déjà là"))
        session.flush()
        with pytest.raises(TerritoryImportError):
            import_territory_data(
                session, load_files([data_dir / "val-de-sedelle.json", bad_sites])[0], organisation="CC"
            )
        summary = import_territory_data(session, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
        assert summary.counts["communes"].created == 8
    assert counts(engine)["organisation"] == 2
    assert counts(engine)["commune"] == 8


def test_communes_of_several_departements_need_a_territory_name(engine: Engine, data_dir: Path) -> None:
    data, _ = load_files([data_dir / "val-de-sedelle.json"])
    other = CommuneRecord(insee_code="87501", name="Limousine", population=300, latitude=45.9, longitude=1.3)
    mixed = data.model_copy(update={"communes": [*data.communes, other]})
    exc = refused(engine, mixed)
    assert "--territory" in exc.french() and "23, 87" in exc.french()
    assert nothing_written(engine)
    summary = import_territory_data(engine, mixed, organisation="CC", territory_name="Entre Creuse et Vienne")
    assert summary.territory == "Entre Creuse et Vienne"
    with Session(engine) as session:
        assert session.exec(select(Territory.departement)).one() == "23"


def test_services_only_need_no_territory_and_are_upserted_by_code(engine: Engine, data_dir: Path) -> None:
    seed_catalogue(engine)
    summary = import_territory_data(engine, load_files([data_dir / "services.csv"])[0], organisation="CC")
    assert summary.territory is None
    assert (summary.counts["services"].created, summary.counts["services"].updated) == (1, 1)
    with Session(engine) as session:
        assert session.exec(select(Service.duration_minutes).where(Service.code == "caf")).one() == 45
    assert counts(engine)["territory"] == 0


def test_seed_catalogue_is_idempotent_and_keeps_local_changes(engine: Engine, data_dir: Path) -> None:
    first = seed_catalogue(engine)
    assert len(first.created) == len(catalogue()) and first.kept == ()
    import_territory_data(engine, load_files([data_dir / "services.csv"])[0], organisation="CC")
    second = seed_catalogue(engine)
    assert second.created == () and len(second.kept) == len(catalogue())
    with Session(engine) as session:
        assert session.exec(select(Service.duration_minutes).where(Service.code == "caf")).one() == 45
    assert counts(engine)["service"] == len(catalogue()) + 1


def test_a_generated_territory_imports_and_reports_progress(engine: Engine) -> None:
    data = generate_territory(12, 150, buses=2)
    progress: list[tuple[str, int, int]] = []
    summary = import_territory_data(
        engine, data, organisation="Démo", progress=lambda kind, done, total: progress.append((kind, done, total))
    )
    assert summary.territory == data.name
    assert counts(engine)["commune"] == 150 and counts(engine)["site"] == len(data.sites)
    assert ("communes", 100, 150) in progress and ("communes", 150, 150) in progress
    again = import_territory_data(engine, data, organisation="Démo")
    assert all(c.created == c.updated == 0 for c in again.counts.values())


def test_leave_days_from_the_counsellors_file_keep_the_counsellor_off_those_routes(engine: Engine, data_dir: Path) -> None:
    from mobile_services.service_layer.planning_problem import PlanningOptions, build_week_problem

    data, _ = load_files([data_dir / "val-de-sedelle.json", data_dir / "vehicules.csv", data_dir / "conseillers.csv"])
    import_territory_data(engine, data, organisation="CC Val de Sédelle")
    with Session(engine) as session:
        claire = session.exec(select(Counsellor).where(Counsellor.name == "Claire Fayolle")).one()
        assert claire.unavailable_dates == ["2027-03-01", "2027-03-02", "2027-03-03", "2027-03-24"]
        territory = session.exec(select(Territory)).one()
        week = build_week_problem(session, territory.id, "2027-W09", PlanningOptions())  # type: ignore[arg-type]
    crews: dict[int, set[int]] = {}
    for shift in week.problem.shifts:
        crews.setdefault(shift.day, set()).update(m.counsellor_id for m in shift.crew.members)  # type: ignore[union-attr]
    for day in (0, 1, 2):  # 1-3 March 2027: on leave
        assert claire.id not in crews.get(day, set())
    assert claire.id in crews[3]  # Thursday 4 March: back (Wednesday is her day off anyway)


def test_an_install_without_services_gets_the_default_catalogue_with_its_first_import(engine: Engine, data_dir: Path) -> None:
    """Communes and crews imported without services.csv, as the Creuse files are: without a
    catalogue, publishing could not split a stop into slots (it failed on the Creuse)."""
    files = [data_dir / name for name in ("val-de-sedelle.json", "sites.csv", "vehicules.csv", "conseillers.csv")]
    summary = import_territory_data(engine, load_files(files)[0], organisation="CC")

    with Session(engine) as session:
        codes = set(session.exec(select(Service.code)))
    assert codes == {record.code for record in catalogue()}
    assert summary.counts["services"].created == len(codes)
    again = import_territory_data(engine, load_files(files)[0], organisation="CC")
    assert again.counts["services"].created == 0
