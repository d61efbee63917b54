"""Planning a week from the database, storing the draft, publishing slots."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.domain.exceptions import NotFound, PlanningError
from mobile_services.service_layer.planning import PlanOutcome
from mobile_services.storage import tables as t
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def small_valley(engine: Engine) -> int:
    """Twelve communes, one bus with two counsellors and one counsellor by car."""
    data = generate_territory(7, 12, buses=1, counsellors=3, name="Vallée test")
    import_territory_data(engine, data, organisation="CC de la Vallée")
    seed_catalogue(engine)
    with Session(engine) as session:
        territory = session.exec(select(t.Territory)).one()
        return territory.id  # type: ignore[return-value]


def _bus(engine: Engine):  # type: ignore[no-untyped-def]
    return bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))


def test_plan_week_stores_a_feasible_draft_with_figures(engine: Engine, small_valley: int) -> None:
    outcome: PlanOutcome = _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=3))
    with Session(engine) as session:
        plan = session.get(t.Plan, outcome.plan_id)
        assert plan is not None and plan.status == "draft" and plan.version == 1
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan.id)).all()
        routes = session.exec(select(t.Route).where(t.Route.plan_id == plan.id)).all()
        sites = {s.id: s for s in session.exec(select(t.Site))}
    assert visits, "a valley with demand and free resources gets stops"
    assert plan.kpis["communes_visited"] == len({sites[v.site_id].commune_id for v in visits})
    assert 0 < plan.kpis["demand_served_share"] <= 1
    assert plan.kpis["km"] > 0 and plan.kpis["co2_kg"] > 0
    for visit in visits:
        local_start = visit.start_at.astimezone(PARIS)
        opening = sites[visit.site_id].opening_hours.get(str(local_start.weekday()), [])
        start_min = local_start.hour * 60 + local_start.minute
        end_local = visit.end_at.astimezone(PARIS)
        end_min = end_local.hour * 60 + end_local.minute
        assert any(
            int(a[:2]) * 60 + int(a[3:]) <= start_min and end_min <= int(b[:2]) * 60 + int(b[3:]) for a, b in opening
        ), f"visit {visit.id} outside the site's opening hours"
        assert visit.day.isoformat() < "2026-12-05", "no stop on the weekend"
    for route in routes:
        assert route.break_start_at is not None and route.break_end_at is not None
        assert (route.break_end_at - route.break_start_at).total_seconds() >= 45 * 60
    # every commune not visited is explained
    visited = {sites[v.site_id].commune_id for v in visits}
    explained = {u["commune_id"] for u in plan.unserved}
    with Session(engine) as session:
        communes = {c.id for c in session.exec(select(t.Commune))}
    assert communes - visited <= explained
    assert all(u["reason_fr"] for u in plan.unserved)


def test_replanning_makes_a_new_version(engine: Engine, small_valley: int) -> None:
    bus = _bus(engine)
    first = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    second = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    assert (first.version, second.version) == (1, 2)


def test_publish_cuts_slots_and_emits_the_event(engine: Engine, small_valley: int) -> None:
    bus = _bus(engine)
    outcome = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week="2026-W49"))
    with Session(engine) as session:
        plan = session.get(t.Plan, outcome.plan_id)
        assert plan is not None and plan.status == "published"
        visits = session.exec(select(t.Visit).where(t.Visit.plan_id == plan.id)).all()
        slots = session.exec(select(t.Slot)).all()
        journal = [e.name for e in session.exec(select(t.EventLog))]
    assert "PlanPublished" in journal and "PlanDrafted" in journal
    by_visit = {v.id: v for v in visits}
    assert {s.visit_id for s in slots} == set(by_visit)
    for slot in slots:
        visit = by_visit[slot.visit_id]
        assert visit.start_at <= slot.start_at < slot.end_at <= visit.end_at
    walk_in = sum((s.end_at - s.start_at).total_seconds() for s in slots if s.walk_in)
    total = sum((s.end_at - s.start_at).total_seconds() for s in slots)
    assert 0.15 <= walk_in / total <= 0.5


def test_publishing_without_a_draft_is_explained(engine: Engine, small_valley: int) -> None:
    with pytest.raises(NotFound) as caught:
        _bus(engine).handle(commands.PublishPlan(territory_id=small_valley, week="2026-W50"))
    assert "plan" in caught.value.french()


def test_a_week_of_holidays_and_weekend_is_explained_not_crashed(engine: Engine, small_valley: int) -> None:
    with Session(engine) as session:
        for counsellor in session.exec(select(t.Counsellor)):
            counsellor.unavailable_dates = [f"2026-12-{d:02d}" for d in range(1, 32)] + ["2026-11-30"]
            session.add(counsellor)
        session.commit()
    with pytest.raises(PlanningError) as caught:
        _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    assert "Aucune tournée possible" in caught.value.french()


def test_public_holidays_remove_the_day(engine: Engine, small_valley: int) -> None:
    before_w46 = FixedClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))  # a past week cannot be planned
    bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=before_w46)
    outcome = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W46", time_limit_s=2))
    with Session(engine) as session:
        days = {v.day.isoformat() for v in session.exec(select(t.Visit).where(t.Visit.plan_id == outcome.plan_id))}
    assert "2026-11-11" not in days  # Armistice
    assert any("Armistice" in message for message in outcome.messages)


def test_pinned_stops_are_kept_by_the_next_plan(engine: Engine, small_valley: int) -> None:
    bus = _bus(engine)
    first = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    with Session(engine) as session:
        visit = session.exec(select(t.Visit).where(t.Visit.plan_id == first.plan_id)).first()
        assert visit is not None
        visit.pinned = True
        session.add(visit)
        session.commit()
        pinned = (visit.site_id, visit.vehicle_id, visit.day, visit.half_day)
    second = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    with Session(engine) as session:
        kept = [
            (v.site_id, v.vehicle_id, v.day, v.half_day)
            for v in session.exec(select(t.Visit).where(t.Visit.plan_id == second.plan_id, t.Visit.pinned == True))  # noqa: E712
        ]
    assert kept == [pinned]


def test_replanning_mid_week_keeps_what_already_happened(engine: Engine, small_valley: int) -> None:
    clock = FixedClock(NOW)
    bus = bootstrap(Settings(), engine=engine, sms=FakeSmsSender(), clock=clock)
    first = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week="2026-W49"))
    # Wednesday 2 December, 10:00 Paris: every counsellor is off sick from Thursday on.
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    with Session(engine) as session:
        for counsellor in session.exec(select(t.Counsellor)):
            counsellor.unavailable_dates = ["2026-12-03", "2026-12-04"]
            session.add(counsellor)
        session.commit()
    second = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))

    def stops(plan_id: int) -> set[tuple[int, int, datetime]]:
        with Session(engine) as session:
            return {
                (v.site_id, v.vehicle_id, v.start_at)
                for v in session.exec(select(t.Visit).where(t.Visit.plan_id == plan_id))
            }

    cutoff = clock.now()
    before = {s for s in stops(first.plan_id) if s[2] < cutoff}
    assert before, "the first plan had stops before Wednesday 10:00"
    assert {s for s in stops(second.plan_id) if s[2] < cutoff} == before
    assert not any(s[2].astimezone(PARIS).day in (3, 4) for s in stops(second.plan_id))


def test_a_commune_without_any_site_is_explained(engine: Engine, small_valley: int) -> None:
    with Session(engine) as session:
        commune = session.exec(select(t.Commune).order_by(t.Commune.population.desc())).first()  # type: ignore[attr-defined]
        assert commune is not None
        for site in session.exec(select(t.Site).where(t.Site.commune_id == commune.id)):
            session.delete(site)
        session.commit()
        name = commune.name
    outcome = _bus(engine).handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    with Session(engine) as session:
        plan = session.get(t.Plan, outcome.plan_id)
    assert plan is not None
    [entry] = [u for u in plan.unserved if u["commune"] == name]
    assert entry["reason"] == "no_site"
    assert entry["reason_fr"] == "aucun lieu d'accueil n'est déclaré dans la commune : ajoutez-en un (fichier des lieux)"


def test_the_plain_ortools_search_remains_available(engine: Engine, small_valley: int) -> None:
    bus = bootstrap(Settings(solver_strategy="ortools"), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    outcome = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=1))
    assert outcome.kpis["visits"] > 0


def test_two_parallel_searches_plan_the_week(engine: Engine, small_valley: int) -> None:
    """The default on a 2-core machine: LNS here, OR-Tools' ILS in a child process."""
    bus = bootstrap(Settings(solver_workers=2), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))
    outcome = bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=3))
    assert outcome.kpis["visits"] > 0
    assert not [m for m in outcome.messages if "routing-worker" in m]  # the child answered in time


def test_a_crew_offered_nothing_of_the_catalogue_still_gives_common_slots() -> None:
    """An empty catalogue (or one whose every service needs a skill the crew lacks) used to give
    the common slots a weight of 0, and publishing failed on it."""
    from mobile_services.service_layer.planning import COMMON_SLOT, service_specs

    specs = service_specs([], set())
    assert [(spec.code, spec.weight) for spec in specs] == [(COMMON_SLOT, 1.0)]
