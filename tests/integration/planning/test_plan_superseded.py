"""A published version replaced by a newer one: nothing keeps pointing at it.

Versions are hand-made copies of the valley's published week (no solver): the same stops,
one moved or dropped. Waiting residents are told of a stop once across versions, a notice
not yet sent about an old stop is withdrawn, one told of a stop the new version dropped
hears of it. Every backend.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain import commands, events
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import NOW, WEEK, Valley

RESIDENT = "+33611111111"
_sids = iter(range(10**6))


@pytest.fixture
def bus(engine: Engine, tmp_path: Path) -> MessageBus:
    return bootstrap(Settings(data_dir=tmp_path), engine=engine, sms=FakeSmsSender(), clock=FixedClock(NOW))


def _republish(bus: MessageBus, engine: Engine, valley: Valley, *, drop: str | None = None, move: str | None = None) -> int:
    """A new version of the week: the published stops, ``drop``'s left out, ``move``'s a day later."""
    with Session(engine) as session:
        published = session.exec(
            select(t.Plan).where(t.Plan.territory_id == valley.territory_id, t.Plan.status == "published")
        ).one()
        new = t.Plan(territory_id=published.territory_id, week=WEEK, version=published.version + 1, status="draft")
        session.add(new)
        session.flush()
        for visit in session.exec(select(t.Visit).where(t.Visit.plan_id == published.id)).all():
            name = _commune_of(session, visit)
            if name == drop:
                continue
            shift = timedelta(days=1) if name == move else timedelta()
            session.add(t.Visit(
                plan_id=new.id, site_id=visit.site_id, day=visit.day + shift, half_day=visit.half_day,  # type: ignore[arg-type]
                start_at=visit.start_at + shift, end_at=visit.end_at + shift, vehicle_id=visit.vehicle_id, crew=visit.crew,
            ))  # fmt: skip
        session.commit()
        new_id = new.id
    bus.handle(commands.PublishPlan(territory_id=valley.territory_id, week=WEEK, confirmed=True))
    return new_id  # type: ignore[return-value]


def _commune_of(session: Session, visit: t.Visit) -> str:
    return session.exec(
        select(t.Commune.name).join(t.Site, col(t.Site.commune_id) == t.Commune.id).where(t.Site.id == visit.site_id)
    ).one()


def _notices(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [
            (m.kind, m.status, m.body)
            for m in session.exec(
                select(t.Message).where(col(t.Message.kind).startswith("waitlist")).order_by(col(t.Message.id))
            ).all()
        ]


def _all_sent(engine: Engine) -> None:
    with Session(engine) as session:
        session.exec(update(t.Message).where(t.Message.status == "pending").values(status="sent"))  # type: ignore[call-overload]
        session.commit()


def test_waiting_residents_hear_of_a_stop_once_across_versions_and_of_its_change(
    bus: MessageBus, engine: Engine, valley: Valley
) -> None:
    bus.handle(commands.JoinWaitlist(phone=RESIDENT, commune_id=valley.communes["Guéret"]))
    _republish(bus, engine, valley)
    told = "Bonne nouvelle : un passage est prévu à Guéret le mar. 1er déc. Pour prendre RDV, répondez RDV."
    assert _notices(engine) == [("waitlist_offer", "pending", told)]

    # another version before it went out (the quiet hours): the old notice is withdrawn, one stays
    _republish(bus, engine, valley)
    assert _notices(engine) == [("waitlist_offer", "withdrawn", told), ("waitlist_offer", "pending", told)]
    _all_sent(engine)

    # the stop unchanged in the next version: not announced again
    _republish(bus, engine, valley)
    assert len(_notices(engine)) == 2

    # the stop moves to the next day: the resident hears the new day instead of the old
    _republish(bus, engine, valley, move="Guéret")
    assert _notices(engine)[-1] == (
        "waitlist_offer", "pending",
        "Changement : pas de passage à Guéret le mar. 1er déc., le prochain est le mer. 2 déc. Pour prendre RDV, répondez RDV.",
    )  # fmt: skip
    _all_sent(engine)

    # and then it is dropped with no other stop there: told it is cancelled, once
    _republish(bus, engine, valley, drop="Guéret")
    assert _notices(engine)[-1] == (
        "waitlist_stop_cancelled", "pending",
        "Le passage prévu à Guéret le mer. 2 déc. est annulé. Nous vous préviendrons du prochain passage.",
    )  # fmt: skip
    _republish(bus, engine, valley, drop="Guéret")
    assert [kind for kind, status, _ in _notices(engine) if status != "withdrawn"].count("waitlist_stop_cancelled") == 1
    _all_sent(engine)
    _republish(bus, engine, valley, drop="Guéret")
    assert [kind for kind, status, _ in _notices(engine) if status != "withdrawn"].count("waitlist_stop_cancelled") == 1
    with Session(engine) as session:
        # the notice withdrawn before it went out did not use up one of the request's offers
        assert session.exec(select(t.WaitlistEntry.notified_count)).one() == 2
