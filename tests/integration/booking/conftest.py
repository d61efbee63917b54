"""Small hand-made worlds for booking and dispatch tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

#: Monday 30 November 2026, 10:00 Paris (09:00 UTC): the week before the stop.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
#: The stop: Tuesday 8 December 2026, 09:00-12:00 Paris (08:00-11:00 UTC).
STOP_START = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


@dataclass
class Stop:
    visit_id: int
    commune_id: int
    single_slot_id: int
    shared_slot_id: int
    walk_in_slot_id: int
    service_ants_id: int
    service_caf_id: int


@pytest.fixture
def settings() -> Settings:
    return Settings(public_base_url="https://rdv.example.fr")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def fake_sms() -> FakeSmsSender:
    return FakeSmsSender()


@pytest.fixture
def bus(engine: Engine, settings: Settings, clock: FixedClock, fake_sms: FakeSmsSender) -> MessageBus:
    return bootstrap(settings, engine=engine, sms=fake_sms, clock=clock)


@pytest.fixture
def stop_at_saint_leger(engine: Engine) -> Stop:
    """A published morning stop at the mairie of Saint-Léger-la-Montagne, crew skilled for CAF only."""
    with session_scope(engine) as session:
        organisation = t.Organisation(name="CC Monts d'Ambazac")
        session.add(organisation)
        session.flush()
        territory = t.Territory(organisation_id=organisation.id, name="Monts d'Ambazac", departement="87")
        session.add(territory)
        session.flush()
        commune = t.Commune(
            territory_id=territory.id, insee_code="87156", name="Saint-Léger-la-Montagne", postcodes=["87340"],
            population=360, latitude=46.03, longitude=1.43,
        )
        session.add(commune)
        session.flush()
        site = t.Site(commune_id=commune.id, name="Mairie", latitude=46.03, longitude=1.43)
        vehicle = t.Vehicle(territory_id=territory.id, name="Bus 1", depot_latitude=46.0, depot_longitude=1.4)
        session.add_all([site, vehicle])
        session.flush()
        counsellor = t.Counsellor(
            territory_id=territory.id, name="Aline Lagrange", home_latitude=46.0, home_longitude=1.4,
            skills=["caf", "numerique_base"], vehicle_id=vehicle.id,
        )
        caf = t.Service(code="caf", label="CAF : allocations", short_label="CAF", duration_minutes=30, required_skill="caf")
        ants = t.Service(code="ants", label="ANTS : carte grise", short_label="Carte grise", duration_minutes=45, required_skill="ants")
        plan = t.Plan(territory_id=territory.id, week="2026-W50", status="published", published_at=NOW)
        session.add_all([counsellor, caf, ants, plan])
        session.flush()
        visit = t.Visit(
            plan_id=plan.id, site_id=site.id, day=date(2026, 12, 8), start_at=STOP_START,
            end_at=STOP_START + timedelta(hours=3), vehicle_id=vehicle.id, crew=[counsellor.id],
        )
        session.add(visit)
        session.flush()
        single = t.Slot(visit_id=visit.id, start_at=STOP_START, end_at=STOP_START + timedelta(minutes=30), capacity=1)
        shared = t.Slot(
            visit_id=visit.id, start_at=STOP_START + timedelta(minutes=30), end_at=STOP_START + timedelta(minutes=60),
            capacity=3,
        )
        walk_in = t.Slot(
            visit_id=visit.id, start_at=STOP_START + timedelta(minutes=60), end_at=STOP_START + timedelta(minutes=90),
            walk_in=True,
        )
        session.add_all([single, shared, walk_in])
        session.flush()
        return Stop(
            visit_id=visit.id, commune_id=commune.id, single_slot_id=single.id, shared_slot_id=shared.id,  # type: ignore[arg-type]
            walk_in_slot_id=walk_in.id, service_ants_id=ants.id, service_caf_id=caf.id,  # type: ignore[arg-type]
        )


def hamlet_beside(engine: Engine, stop: Stop) -> int:
    """A commune of the territory with no stop planned, next to the stop's commune."""
    with Session(engine) as session:
        here = session.get(t.Commune, stop.commune_id)
        assert here is not None
        hamlet = t.Commune(territory_id=here.territory_id, insee_code="87999", name="Les Billanges", postcodes=["87340"],
                           population=120, latitude=46.05, longitude=1.45)  # fmt: skip
        session.add(hamlet)
        session.commit()
        assert hamlet.id is not None
        return hamlet.id
