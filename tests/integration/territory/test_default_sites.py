"""Default sites: a commune without a site of its own gets "Mairie" at its centre; its own sites replace it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from config import load_settings
from mobile_services.service_layer.planning_problem import BUS_ONLY, CAR_ONLY, PlanningOptions, build_week_problem
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from mobile_services.territory.formats import load_files
from mobile_services.territory.store import ensure_default_sites, import_territory_data

WEEKDAYS = {str(day): [["09:00", "12:00"], ["13:30", "17:00"]] for day in range(5)}


def sites_by_commune(engine: Engine) -> dict[str, list[t.Site]]:
    with Session(engine) as session:
        rows = session.exec(select(t.Commune.insee_code, t.Site).join(t.Site, t.Site.commune_id == t.Commune.id)).all()
    result: dict[str, list[t.Site]] = {}
    for code, site in rows:
        result.setdefault(code, []).append(site)
    return result


def add_visit(engine: Engine, site_id: int) -> int:
    """A draft plan with one stop at ``site_id`` (what a plan made on default sites leaves behind)."""
    with session_scope(engine) as session:
        territory = session.exec(select(t.Territory)).one()
        vehicle = t.Vehicle(territory_id=territory.id, name="Bus test", depot_latitude=46.24, depot_longitude=1.87)  # type: ignore[arg-type]
        plan = t.Plan(territory_id=territory.id, week="2026-W50")  # type: ignore[arg-type]
        session.add_all([vehicle, plan])
        session.flush()
        visit = t.Visit(
            plan_id=plan.id,  # type: ignore[arg-type]
            site_id=site_id,
            day=date(2026, 12, 7),
            start_at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
            end_at=datetime(2026, 12, 7, 11, 0, tzinfo=UTC),
            vehicle_id=vehicle.id,  # type: ignore[arg-type]
        )
        session.add(visit)
        session.flush()
        return visit.id  # type: ignore[return-value]


def test_communes_alone_get_a_default_site_each_at_their_centre(engine: Engine, data_dir: Path) -> None:
    data, _ = load_files([data_dir / "val-de-sedelle.json"])
    summary = import_territory_data(engine, data, organisation="CC")
    assert (summary.default_sites.created, summary.default_sites.in_use, summary.default_sites.replaced) == (8, 8, 0)
    assert summary.default_sites_fr() == "lieu par défaut (Mairie, centre de la commune) : 8 commune(s), 8 créé(s)"
    assert summary.counts["sites"].total == 0  # the file had no sites: defaults are counted apart
    by_commune = sites_by_commune(engine)
    with Session(engine) as session:
        centres = {c.insee_code: (c.latitude, c.longitude) for c in session.exec(select(t.Commune))}
    assert set(by_commune) == set(centres)
    for code, sites in by_commune.items():
        [site] = sites
        assert site.is_default and site.name == "Mairie" and site.kind == "mairie"
        assert site.bus_parking and site.accessible and not site.has_power and site.market_day is None
        assert (site.latitude, site.longitude) == centres[code]
        assert site.opening_hours == WEEKDAYS  # the packaged default: weekdays 09:00-12:00, 13:30-17:00

    again = import_territory_data(engine, data, organisation="CC")  # nothing new to do
    assert (again.default_sites.created, again.default_sites.in_use) == (0, 8)
    assert sum(len(s) for s in sites_by_commune(engine).values()) == 8


def test_a_default_site_can_be_served_by_a_bus_and_by_a_car(engine: Engine, data_dir: Path) -> None:
    """The planner reads kind and bus_parking: no vehicle requirement, so either resource may come."""
    data, _ = load_files([data_dir / name for name in ("val-de-sedelle.json", "vehicules.csv", "conseillers.csv")])
    import_territory_data(engine, data, organisation="CC")
    with Session(engine) as session:
        territory = session.exec(select(t.Territory)).one()
        week = build_week_problem(session, territory.id, "2026-W50", PlanningOptions())  # type: ignore[arg-type]
    default_ids = {s.id for sites in sites_by_commune(engine).values() for s in sites if s.is_default}
    candidates = [c for c in week.problem.candidates if c.id in default_ids]
    assert candidates, "communes on their default site must be planned"
    assert all(not ({BUS_ONLY, CAR_ONLY} & c.skills) for c in candidates)


def test_the_hours_come_from_the_setting(engine: Engine, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MOBILE_SERVICES_DEFAULT_SITE_HOURS", "lun,mar 9h-12h; jeu 14h-17h30")
    hours = load_settings().default_site_opening_hours
    assert hours == {"0": [["09:00", "12:00"]], "1": [["09:00", "12:00"]], "3": [["14:00", "17:30"]]}
    data, _ = load_files([data_dir / "val-de-sedelle.json"])
    import_territory_data(engine, data, organisation="CC", default_site_hours=hours)
    assert all(s.opening_hours == hours for sites in sites_by_commune(engine).values() for s in sites)
    import_territory_data(engine, data, organisation="CC")  # the setting changed back: defaults follow it
    assert all(s.opening_hours == WEEKDAYS for sites in sites_by_commune(engine).values() for s in sites)


def test_imported_sites_replace_the_default_ones(engine: Engine, data_dir: Path) -> None:
    import_territory_data(engine, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
    before = {code: sites[0].id for code, sites in sites_by_commune(engine).items()}
    summary = import_territory_data(engine, load_files([data_dir / "sites.csv"])[0], organisation="CC")
    assert summary.counts["sites"].created == 10
    # 23501-23505 have an imported "Mairie" (it takes over the default row), 23507 and 23508 other sites
    assert (summary.default_sites.replaced, summary.default_sites.in_use, summary.default_sites.created) == (7, 1, 0)
    by_commune = sites_by_commune(engine)
    assert [s.is_default for s in by_commune["23506"]] == [True]  # Peyrabout-le-Haut: no site in the file
    for code in ("23501", "23502", "23503", "23504", "23505", "23507", "23508"):
        assert not any(s.is_default for s in by_commune[code])
    assert {s.id for s in by_commune["23502"]} == {before["23502"]}  # the imported Mairie kept the row
    assert before["23507"] not in {s.id for sites in by_commune.values() for s in sites}  # deleted
    chambonnet = by_commune["23502"][0]
    assert chambonnet.opening_hours == {"1": [["09:00", "12:00"]], "3": [["14:00", "17:00"]]}


def test_a_default_site_with_visits_is_closed_not_deleted_and_comes_back(engine: Engine, data_dir: Path) -> None:
    import_territory_data(engine, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
    [default] = sites_by_commune(engine)["23508"]
    visit_id = add_visit(engine, default.id)  # type: ignore[arg-type]
    summary = import_territory_data(engine, load_files([data_dir / "sites.csv"])[0], organisation="CC")
    assert summary.default_sites.replaced == 7
    sites = {s.name: s for s in sites_by_commune(engine)["23508"]}
    assert set(sites) == {"Mairie", "Salle des fêtes"}
    kept = sites["Mairie"]
    assert kept.id == default.id and kept.is_default and kept.opening_hours == {}  # never planned again
    with Session(engine) as session:
        visit = session.get(t.Visit, visit_id)
        assert visit is not None and visit.site_id == default.id
        territory = session.exec(select(t.Territory)).one()
        week = build_week_problem(session, territory.id, "2026-W51", PlanningOptions())  # type: ignore[arg-type]
    assert default.id not in {c.id for c in week.problem.candidates}

    # The commune loses its own sites (removed by hand): the next import gives the default back.
    with session_scope(engine) as session:
        session.delete(session.get(t.Site, sites["Salle des fêtes"].id))
    again = import_territory_data(engine, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
    assert again.default_sites.created == 1 and again.default_sites.in_use == 2
    [back] = sites_by_commune(engine)["23508"]
    assert back.id == default.id and back.is_default and back.opening_hours == WEEKDAYS


def test_a_commune_without_sites_gets_its_default_back(engine: Engine, data_dir: Path) -> None:
    files = [data_dir / "val-de-sedelle.json", data_dir / "sites.csv"]
    import_territory_data(engine, load_files(files)[0], organisation="CC")
    with session_scope(engine) as session:
        commune = session.exec(select(t.Commune).where(t.Commune.insee_code == "23503")).one()
        for site in session.exec(select(t.Site).where(t.Site.commune_id == commune.id)):
            session.delete(site)
        territory = session.exec(select(t.Territory)).one()
        counts = ensure_default_sites(session, territory)  # what any code removing sites calls
    assert (counts.created, counts.in_use) == (1, 2)
    [site] = sites_by_commune(engine)["23503"]
    assert site.is_default and site.opening_hours == WEEKDAYS


def test_a_default_site_follows_its_commune_centre(engine: Engine, data_dir: Path, write_file) -> None:  # type: ignore[no-untyped-def]
    import_territory_data(engine, load_files([data_dir / "val-de-sedelle.json"])[0], organisation="CC")
    moved = (data_dir / "val-de-sedelle.json").read_text(encoding="utf-8").replace("[1.8892,46.3011]", "[1.8900,46.3020]")
    import_territory_data(engine, load_files([write_file("moved.json", moved)])[0], organisation="CC")
    [site] = sites_by_commune(engine)["23506"]
    assert (site.latitude, site.longitude) == (46.3020, 1.8900)
