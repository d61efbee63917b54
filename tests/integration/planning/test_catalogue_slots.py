"""Slots as the catalogue says: each service's duration, the walk-in share of the site, the
territory or the setting, and the catalogue's group workshop, bookable by SMS and online."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.service_layer.booking import book, free_slots, services_offered
from mobile_services.service_layer.planning import create_slots
from mobile_services.service_layer.views import stop_offer
from mobile_services.storage import tables as t

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = date(2026, 12, 1)
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 9h in Paris


def _minutes(slot: t.Slot) -> int:
    return int((slot.end_at - slot.start_at).total_seconds() // 60)


@pytest.fixture
def world(engine: Engine) -> dict[str, int]:
    """One commune, one bus with two desks, a crew with CAF, France Travail and workshop skills."""
    with Session(engine, expire_on_commit=False) as session:
        org = t.Organisation(name="O")
        session.add(org)
        session.flush()
        territory = t.Territory(organisation_id=org.id, name="T", departement="23")  # type: ignore[arg-type]
        session.add(territory)
        session.flush()
        commune = t.Commune(territory_id=territory.id, insee_code="23096", name="Guéret", latitude=46.17, longitude=1.87)  # type: ignore[arg-type]
        session.add(commune)
        session.flush()
        site = t.Site(commune_id=commune.id, name="Place", latitude=46.17, longitude=1.87)  # type: ignore[arg-type]
        bus = t.Vehicle(territory_id=territory.id, name="Bus 1", depot_latitude=46.17, depot_longitude=1.87, desks=2)  # type: ignore[arg-type]
        session.add_all([site, bus])
        session.flush()
        crew = t.Counsellor(territory_id=territory.id, name="A", home_latitude=46.17, home_longitude=1.87,  # type: ignore[arg-type]
                            skills=["caf", "france_travail", "atelier"])  # fmt: skip
        services = [
            t.Service(code="caf", label="CAF", short_label="CAF", duration_minutes=30, required_skill="caf"),
            t.Service(code="france_travail", label="France Travail", short_label="France Travail", duration_minutes=45,
                      required_skill="france_travail"),
            t.Service(code="ameli", label="Ameli", short_label="Ameli", duration_minutes=30, required_skill="ameli"),
            t.Service(code="numerique", label="Aide numérique", short_label="Aide", duration_minutes=20),
            t.Service(code="atelier_numerique", label="Atelier", short_label="Atelier", duration_minutes=90,
                      required_skill="atelier", is_group=True, group_capacity=8),
        ]  # fmt: skip
        session.add_all([crew, *services])
        session.flush()
        plan = t.Plan(territory_id=territory.id, week="2026-W49", status="published", published_at=NOW)  # type: ignore[arg-type]
        session.add(plan)
        session.flush()
        half = t.Visit(plan_id=plan.id, site_id=site.id, day=DAY, start_at=START, end_at=START + timedelta(hours=3),  # type: ignore[arg-type]
                       vehicle_id=bus.id, crew=[crew.id])  # type: ignore[list-item,arg-type]  # fmt: skip
        full = t.Visit(plan_id=plan.id, site_id=site.id, day=DAY + timedelta(days=1), start_at=START + timedelta(days=1),  # type: ignore[arg-type]
                       end_at=START + timedelta(days=1, hours=7), vehicle_id=bus.id, crew=[crew.id], half_day="day")  # type: ignore[list-item,arg-type]  # fmt: skip
        session.add_all([half, full])
        session.commit()
        return {"territory": territory.id, "site": site.id, "commune": commune.id, "plan": plan.id, "half": half.id,  # type: ignore[dict-item]
                "full": full.id, **{s.code: s.id for s in services}}  # type: ignore[misc]  # fmt: skip


def _slots(engine: Engine, world: dict[str, int], settings: Settings, visit: str = "half") -> list[t.Slot]:
    with Session(engine, expire_on_commit=False) as session:
        create_slots(session, session.get(t.Plan, world["plan"]), settings)  # type: ignore[arg-type]
        session.commit()
        return list(session.exec(select(t.Slot).where(t.Slot.visit_id == world[visit])).all())


def _walk_in_share(slots: list[t.Slot]) -> float:
    return sum(_minutes(s) for s in slots if s.walk_in) / sum(_minutes(s) for s in slots)


def test_each_service_gets_its_own_duration(engine: Engine, world: dict[str, int], tmp_path: Path) -> None:
    slots = _slots(engine, world, Settings(data_dir=tmp_path))
    bookable = [s for s in slots if not s.walk_in]
    assert {_minutes(s) for s in bookable if s.service_id is None} == {30}  # CAF and Aide numérique share them
    own = [s for s in bookable if s.service_id is not None]
    assert own and {(s.service_id, _minutes(s)) for s in own} == {(world["france_travail"], 45)}
    assert not any(s.service_id == world["ameli"] for s in slots)  # nobody in the crew does Ameli


@pytest.mark.parametrize(("site_share", "territory_share", "setting", "expected"), [
    (None, None, 0.25, 0.25), (None, None, 0.5, 0.5), (None, 0.1, 0.5, 0.1), (0.4, 0.1, 0.5, 0.4),
])  # fmt: skip
def test_the_walk_in_share_is_the_site_s_else_the_territory_s_else_the_setting(
    engine: Engine, world: dict[str, int], tmp_path: Path,
    site_share: float | None, territory_share: float | None, setting: float, expected: float,
) -> None:  # fmt: skip
    with Session(engine) as session:
        site, territory = session.get(t.Site, world["site"]), session.get(t.Territory, world["territory"])
        site.walk_in_share, territory.walk_in_share = site_share, territory_share  # type: ignore[union-attr]
        session.add_all([site, territory])
        session.commit()
    share = _walk_in_share(_slots(engine, world, Settings(data_dir=tmp_path, walk_in_share=setting)))
    assert abs(share - expected) <= 30 / 360 + 1e-9  # within one walk-in slot of two 3-hour desks


def test_a_full_day_gets_the_catalogue_s_workshop_bookable_by_sms(engine: Engine, world: dict[str, int], tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert not any(s.service_id == world["atelier_numerique"] for s in _slots(engine, world, settings, "half"))
    [workshop] = [s for s in _slots(engine, world, settings, "full") if s.service_id == world["atelier_numerique"]]
    assert (_minutes(workshop), workshop.capacity) == (90, 8)
    with Session(engine) as session:
        offered = services_offered(session, commune_id=world["commune"], now=NOW, settings=settings)
        assert world["atelier_numerique"] in {s.id for s in offered}  # the SMS dialogue lists it
        found = free_slots(session, commune_id=world["commune"], now=NOW, settings=settings, service_id=world["atelier_numerique"])
        assert [f.slot_id for f in found] == [workshop.id] and found[0].seats_left == 8
        for n in range(8):
            book(session, phone=f"+3361234560{n}", slot_id=workshop.id, service_id=world["atelier_numerique"], channel="sms",  # type: ignore[arg-type]
                 now=NOW, settings=settings)  # fmt: skip
        with pytest.raises(BookingRefused) as full:
            book(session, phone="+33612345699", slot_id=workshop.id, service_id=world["atelier_numerique"], channel="sms",  # type: ignore[arg-type]
                 now=NOW, settings=settings)  # fmt: skip
        assert full.value.code == "slot_full"  # type: ignore[attr-defined]


def test_a_longer_service_books_its_own_slots_only(engine: Engine, world: dict[str, int], tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    slots = _slots(engine, world, settings)
    common = next(s for s in slots if not s.walk_in and s.service_id is None)
    own = next(s for s in slots if s.service_id == world["france_travail"])
    with Session(engine) as session:
        found = free_slots(session, commune_id=world["commune"], now=NOW, settings=settings, service_id=world["france_travail"], limit=50)
        assert found and all(_minutes(session.get(t.Slot, f.slot_id)) == 45 for f in found)  # type: ignore[arg-type]
        with pytest.raises(BookingRefused) as short:
            book(session, phone="+33612345678", slot_id=common.id, service_id=world["france_travail"], channel="web",  # type: ignore[arg-type]
                 now=NOW, settings=settings)  # fmt: skip
        assert short.value.code == "service_not_offered"  # type: ignore[attr-defined]
        confirmation, _ = book(session, phone="+33612345678", slot_id=own.id, service_id=None, channel="web",  # type: ignore[arg-type]
                               now=NOW, settings=settings)  # fmt: skip
        assert session.get(t.Booking, confirmation.booking_id).service_id == world["france_travail"]  # type: ignore[union-attr]
        offer = stop_offer(session, session.get(t.Visit, world["half"]), NOW, settings.booking_cutoff_minutes)  # type: ignore[arg-type]
    assert {s.label for s in offer.services} == {"CAF", "Aide numérique"}  # the common slots' motifs
    assert offer.longer and {service.label for service, _ in offer.longer} == {"France Travail"}


def test_the_cli_sets_the_walk_in_share_of_a_territory_and_of_a_site(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from mobile_services.cli import app
    from mobile_services.storage.db import make_engine, upgrade
    from tests.fixtures.valley import build_valley

    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    build_valley(engine)
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["territory", "walk-in", "0,3"]).exit_code == 0
    done = runner.invoke(app, ["territory", "walk-in", "0.5", "--commune", "23096", "--site", "mairie de guéret"])
    assert done.exit_code == 0, done.output
    bad = runner.invoke(app, ["territory", "walk-in", "2"])
    assert bad.exit_code != 0 and "Part invalide" in bad.output
    with Session(engine) as session:
        assert session.exec(select(t.Territory.walk_in_share)).one() == 0.3
        assert session.exec(select(t.Site.walk_in_share).where(t.Site.name == "Mairie de Guéret")).one() == 0.5
    engine.dispose()


def test_a_crew_giving_only_a_longer_service_still_offers_slots_to_whoever_asks(
    engine: Engine, world: dict[str, int], tmp_path: Path
) -> None:
    """The SMS dialogue asks no service when one is offered: that stop's own slots are offered."""
    settings = Settings(data_dir=tmp_path)
    with Session(engine) as session:
        crew = session.exec(select(t.Counsellor)).one()
        crew.skills = ["france_travail"]
        basics = session.get(t.Service, world["numerique"])
        basics.required_skill = "numerique_base"  # type: ignore[union-attr]
        session.add_all([crew, basics])
        session.commit()
    slots = _slots(engine, world, settings)
    assert {s.service_id for s in slots if not s.walk_in} == {world["france_travail"]}
    with Session(engine) as session:
        offered = services_offered(session, commune_id=world["commune"], now=NOW, settings=settings)
        assert [s.code for s in offered] == ["france_travail"]
        found = free_slots(session, commune_id=world["commune"], now=NOW, settings=settings, service_id=None)
        assert found and all(session.get(t.Slot, f.slot_id).service_id == world["france_travail"] for f in found)  # type: ignore[union-attr]
        confirmation, _ = book(session, phone="+33612345678", slot_id=found[0].slot_id, service_id=None, channel="sms",
                               now=NOW, settings=settings)  # fmt: skip
        assert session.get(t.Booking, confirmation.booking_id).service_id == world["france_travail"]  # type: ignore[union-attr]
