"""The app in-process (FastAPI's TestClient) on the valley, with helpers to re-plan its week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands
from mobile_services.service_layer.access import issue
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from mobile_services.web.app import create_app
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import WEEK, Valley

PUBLIC_BASE = "https://rdv.example.fr"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, public_base_url=PUBLIC_BASE)


@pytest.fixture
def sms() -> FakeSmsSender:
    return FakeSmsSender()


@pytest.fixture
def client(settings: Settings, engine: Engine, valley: Valley, clock: FixedClock, sms: FakeSmsSender) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=clock, sms=sms), base_url=PUBLIC_BASE) as test_client:
        yield test_client


@pytest.fixture
def bus(client: TestClient) -> MessageBus:
    return client.app.state.bus  # type: ignore[attr-defined,no-any-return]


def token_for(engine: Engine, valley: Valley, kind: str, name: str, now: object) -> str:
    """Issue the private link of the vehicle or counsellor named ``name``."""
    table = t.Vehicle if kind == "vehicle" else t.Counsellor
    with Session(engine) as session:
        subject = session.exec(select(table).where(table.name == name)).one()  # type: ignore[attr-defined]
        token = issue(session, territory_id=valley.territory_id, kind=kind, subject_id=subject.id, now=now)  # type: ignore[arg-type]
        session.commit()
    return token


def republish(
    bus: MessageBus, engine: Engine, valley: Valley, *, move: dict[str, timedelta] | None = None, drop: tuple[str, ...] = (),
    reassign: dict[str, tuple[int, list[int]]] | None = None,
) -> int:
    """Version 2 of the valley's week: some stops moved, some dropped, some given to another
    (vehicle id, crew); published (confirmed)."""
    move = move or {}
    reassign = reassign or {}
    names = {visit_id: name for name, visit_id in valley.visits.items()}
    with Session(engine) as session:
        old = session.exec(select(t.Plan).where(t.Plan.week == WEEK, t.Plan.status == "published")).one()
        new = t.Plan(territory_id=old.territory_id, week=WEEK, version=old.version + 1, status="draft")
        session.add(new)
        session.flush()
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == old.id).order_by(col(t.Visit.start_at))):
            name = names[visit.id]  # type: ignore[index]
            if name in drop:
                continue
            shift = move.get(name, timedelta(0))
            vehicle_id, crew = reassign.get(name, (visit.vehicle_id, visit.crew))
            session.add(
                t.Visit(
                    plan_id=new.id, site_id=visit.site_id, day=visit.day, half_day=visit.half_day,  # type: ignore[arg-type]
                    start_at=visit.start_at + shift, end_at=visit.end_at + shift, vehicle_id=vehicle_id, crew=crew,
                )
            )  # fmt: skip
        session.commit()
        new_id = new.id
    bus.handle(commands.PublishPlan(territory_id=valley.territory_id, week=WEEK, confirmed=True))
    return new_id  # type: ignore[return-value]
