"""Next week's draft is planned by itself, and the coordinator told by SMS (the weekly job)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock

from .test_plan_week import small_valley  # noqa: F401  (fixture)

THURSDAY = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 14:00 in Paris, week 48: next week is 2026-W49


def test_the_weekly_job_drafts_next_week_and_tells_the_coordinator(engine: Engine, small_valley: int) -> None:  # noqa: F811
    settings = Settings(coordinator_phone="+33698765432", solver_time_limit_seconds=2)
    bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(THURSDAY))

    assert bus.handle(commands.DraftNextWeek()) == 1

    with Session(engine) as session:
        plan = session.exec(select(t.Plan)).one()
        assert (plan.week, plan.status, plan.version) == ("2026-W49", "draft", 1)
        [told] = session.exec(select(t.Message).where(t.Message.kind == "coordinator_draft")).all()
    assert told.recipient == "+33698765432"
    visited = plan.kpis["communes_visited"]
    assert told.body.startswith(f"Brouillon 2026-W49 v1 calculé : {visited} communes, ")
    assert told.body.endswith("Pour le publier : mobile-services publish --week 2026-W49")


def test_a_published_week_is_left_alone(engine: Engine, small_valley: int) -> None:  # noqa: F811
    settings = Settings(coordinator_phone="+33698765432", solver_time_limit_seconds=2)
    bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=FixedClock(THURSDAY))
    bus.handle(commands.PlanWeek(territory_id=small_valley, week="2026-W49", time_limit_s=2))
    bus.handle(commands.PublishPlan(territory_id=small_valley, week="2026-W49"))

    assert bus.handle(commands.DraftNextWeek()) == 0
    with Session(engine) as session:
        assert len(session.exec(select(t.Plan)).all()) == 1
        assert session.exec(select(t.Message).where(t.Message.kind == "coordinator_draft")).all() == []
