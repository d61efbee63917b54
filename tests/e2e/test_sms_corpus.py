"""Residents' own words through the real webhook: the corpus of tests/data/sms_webhook_corpus.toml.

Each case replays its group's setup (the messages that bring the dialogue to the state
the case starts from), then sends the resident's message, signed exactly as Twilio
signs, to /sms/inbound. It checks the three things that make a message understood:

* the intent the dialogue read it as (from the handler's log line "read as ...");
* what the resident then reads (TwiML reply and SMS queued for them now): a fragment,
  or nothing at all when ``expect`` is empty;
* the state afterwards: the conversation's state, and where the group says so the
  number of live bookings and whether the number opted out.

Every case counts as a first try: the corpus is not a journey that may retry.
``python -m pytest tests/e2e/test_sms_corpus.py -q`` prints how many passed; the
summary test prints the first-try rate by group.
"""

from __future__ import annotations

import logging
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.storage import tables as t
from mobile_services.web.app import create_app
from notifications.fakes import FakeSmsSender
from notifications.gsm import count_segments, is_gsm7
from notifications.ports import FixedClock
from tests.e2e.conftest import ACCOUNT_SID, OUR_NUMBER, sign, twiml_messages
from tests.fixtures.valley import Valley

CORPUS = Path(__file__).resolve().parent.parent / "data" / "sms_webhook_corpus.toml"
SENDER = "+33612345678"


@dataclass(frozen=True)
class Case:
    group: str
    setup: tuple[str, ...]
    text: str
    intent: str
    expect: str
    state: str
    bookings: int | None
    opted_out: bool | None

    @property
    def id(self) -> str:
        return f"{self.group}: {self.text}"


def load_corpus(path: Path = CORPUS) -> list[Case]:
    with path.open("rb") as handle:
        groups = tomllib.load(handle)["group"]
    cases = []
    for group in groups:
        for item in group["messages"]:
            text, extra = (item, {}) if isinstance(item, str) else (item["text"], item)
            merged = {**group, **extra}
            cases.append(
                Case(
                    group=group["name"], setup=tuple(group.get("setup", ())), text=text, intent=merged["intent"],
                    expect=merged["expect"], state=merged["state"], bookings=merged.get("bookings"),
                    opted_out=merged.get("opted_out"),
                )  # fmt: skip
            )
    return cases


CASES = load_corpus()


@pytest.fixture
def client(settings: Settings, engine: Engine, valley: Valley, clock: FixedClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=clock, sms=FakeSmsSender())) as test_client:
        yield test_client


class Phone:
    """One resident's phone on the app: signed webhooks out, TwiML and queued SMS in."""

    def __init__(self, client: TestClient, engine: Engine, clock: FixedClock) -> None:
        self.client, self.engine, self.clock = client, engine, clock
        self.seen = 0

    def send(self, body: str) -> list[str]:
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": SENDER, "To": OUR_NUMBER,
                "Body": body, "NumMedia": "0"}  # fmt: skip
        response = self.client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound", form)})
        assert response.status_code == 200, response.text
        return twiml_messages(response.text) + self._queued()

    def _queued(self) -> list[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(t.Message).where(t.Message.recipient == SENDER, col(t.Message.id) > self.seen).order_by(col(t.Message.id))
            ).all()
        if rows:
            self.seen = max(int(r.id) for r in rows)  # type: ignore[arg-type]
        return [r.body for r in rows if r.due_at <= self.clock.now()]


def _read_as(records: list[logging.LogRecord]) -> str:
    lines = [r.getMessage() for r in records if r.name == "mobile_services.conversation" and "read as" in r.getMessage()]
    assert lines, "the handler logged no reading"
    return lines[-1].split("read as ", 1)[1].split(",", 1)[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_resident_message_is_understood_through_the_webhook(
    case: Case, client: TestClient, engine: Engine, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    phone = Phone(client, engine, clock)
    for body in case.setup:
        phone.send(body)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mobile_services.conversation"):
        read = phone.send(case.text)
    context = f"{case.id!r} read {read!r}"
    assert _read_as(caplog.records) == case.intent, context
    if case.expect:
        assert any(case.expect in sms for sms in read), context
    else:
        assert read == [], context
    for sms in read:
        assert is_gsm7(sms) and count_segments(sms).segments <= (2 if sms.startswith("RDV confirmé") else 1), context
    with Session(engine) as session:
        conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == SENDER)).one()
        assert conversation.state == case.state, context
        if case.bookings is not None:
            live = session.exec(
                select(func.count()).select_from(t.Booking).where(col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES))
            ).one()
            assert live == case.bookings, context
        if case.opted_out is not None:
            resident = session.exec(select(t.Resident).where(t.Resident.phone == SENDER)).first()
            assert (resident is not None and resident.opted_out) == case.opted_out, context


def test_the_corpus_is_large_and_covers_every_intent() -> None:
    groups = {c.group for c in CASES}
    assert len(CASES) >= 150, len(CASES)
    assert len(groups) >= 20, groups
    intents = {c.intent for c in CASES}
    assert {"opt_out", "help", "who", "where", "bring", "cancel", "cant_come", "my_bookings", "thanks", "yes", "no",
            "number", "book", "text", "opt_in", "opt_in_silent"} <= intents, intents  # fmt: skip
