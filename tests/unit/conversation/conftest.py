"""Fixtures for dialogue tests through the message bus (no HTTP): the valley, a clock, a chat."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.conversation import SmsReply
from mobile_services.domain.commands import ReceiveSms
from mobile_services.service_layer.messagebus import MessageBus
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.fixtures.valley import Valley

RESIDENT = "+33612345678"
NEIGHBOUR = "+33698765432"
SERVICE_NUMBER = "+33939000000"  # the Twilio number residents write to

Chat = Callable[..., SmsReply]




@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings (30-minute conversation timeout), data kept in the test's folder."""
    return Settings(data_dir=tmp_path, public_base_url="https://rdv.example.fr")


@pytest.fixture
def bus(engine: Engine, valley: Valley, settings: Settings, clock: FixedClock) -> MessageBus:
    """The real bus on the valley's database, with the web handlers registered."""
    bus = bootstrap(settings, engine=engine, sms=FakeSmsSender(), clock=clock)
    return bus


@pytest.fixture
def chat(bus: MessageBus) -> Chat:
    """``chat("RDV")`` sends an SMS from RESIDENT (or ``phone=...``) with a fresh MessageSid."""
    sids = count(1)

    def send(
        body: str, *, phone: str = RESIDENT, sid: str | None = None, opt_out_type: str | None = None,
        to: str = SERVICE_NUMBER,
    ) -> SmsReply:  # fmt: skip
        message_sid = sid or f"SM{next(sids):032x}"
        return bus.handle(
            ReceiveSms(message_sid=message_sid, from_number=phone, to_number=to, body=body, opt_out_type=opt_out_type)
        )

    return send
