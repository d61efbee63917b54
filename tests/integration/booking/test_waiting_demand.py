"""Requests piling up where no stop is planned reach the coordinator once (JoinedWaitlist)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import FixedClock

from .conftest import Stop, hamlet_beside

COORDINATOR = "+33698765432"
RESIDENTS = ["+33611111111", "+33622222222", "+33633333333"]


@pytest.fixture
def settings() -> Settings:
    return Settings(public_base_url="https://rdv.example.fr", coordinator_phone=COORDINATOR, waitlist_alert_threshold=2)


def _alerts(engine: Engine) -> list[t.Message]:
    with Session(engine) as session:
        return list(session.exec(select(t.Message).where(t.Message.kind == "coordinator_waitlist")).all())


def test_the_coordinator_hears_once_of_a_waiting_list_growing_where_no_stop_is_planned(
    bus: MessageBus, engine: Engine, clock: FixedClock, stop_at_saint_leger: Stop
) -> None:
    hamlet = hamlet_beside(engine, stop_at_saint_leger)
    bus.handle(commands.JoinWaitlist(phone=RESIDENTS[0], commune_id=hamlet))
    assert _alerts(engine) == []
    bus.handle(commands.JoinWaitlist(phone=RESIDENTS[1], commune_id=hamlet))
    [alert] = _alerts(engine)
    assert alert.recipient == COORDINATOR
    assert alert.body == (
        "2 demandes en attente à Les Billanges, aucun passage prévu. "
        "Pour re-planifier la semaine : mobile-services incident demand"
    )
    # a third request, or the same event handled again, that week: nothing more
    bus.handle(commands.JoinWaitlist(phone=RESIDENTS[2], commune_id=hamlet))
    bus.handle([e for e in bus.handled if isinstance(e, events.JoinedWaitlist)][-1])
    assert len(_alerts(engine)) == 1
    # the next week, still nothing planned there: told again
    clock.advance(days=7)
    bus.handle(commands.JoinWaitlist(phone="+33644444444", commune_id=hamlet))
    assert [a.body.split(" ")[0] for a in _alerts(engine)] == ["2", "4"]


def test_a_commune_with_a_stop_ahead_is_not_reported(
    bus: MessageBus, engine: Engine, stop_at_saint_leger: Stop
) -> None:
    for phone in RESIDENTS:
        bus.handle(commands.JoinWaitlist(phone=phone, commune_id=stop_at_saint_leger.commune_id))
    assert _alerts(engine) == []
