"""Whatever a phone sends, /sms/inbound answers 200 with valid TwiML: never a 500.

Hypothesis throws arbitrary Unicode (emoji, control characters, right-to-left
text, 1,600-character bodies, empty bodies) mixed with the words that drive the
dialogue, from three numbers whose conversations carry over from one example to
the next, so the bodies land in every state of the dialogue. FastAPI's
TestClient keeps it fast; each example has a new MessageSid.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from config import Settings
from mobile_services.storage import tables as t
from mobile_services.web.app import create_app
from notifications.fakes import FakeSmsSender
from notifications.gsm import count_segments, is_gsm7
from notifications.ports import FixedClock
from tests.e2e.conftest import ACCOUNT_SID, OUR_NUMBER, sign, twiml_messages
from tests.fixtures.valley import Valley

SENDERS = ["+33612345678", "+33698765432", "+33700000001"]
DIALOGUE_WORDS = [
    "RDV", "Guéret", "chatel guion", "st leger", "23000", "Crocq", "1", "2", "3", "0", "OUI", "NON", "YES",
    "ANNULER", "ANNULER 2", "MES RDV", "AIDE", "ARRET", "START", "STOP", "merci", "?", "",
]  # fmt: skip

bodies = st.one_of(
    st.sampled_from(DIALOGUE_WORDS),
    st.text(max_size=160),
    st.text(min_size=1500, max_size=1600),
    st.just("😀" * 1600),
    st.text(alphabet=st.sampled_from("\x00\x1b\r\n\t\u200b\u202e\ufeff\u2019€[]{}~|^\\é«»"), max_size=40),
)


@pytest.fixture
def client(settings: Settings, engine: Engine, valley: Valley, clock: FixedClock) -> Iterator[TestClient]:
    """The app in-process (no socket): fast enough for hundreds of examples."""
    with TestClient(create_app(settings, engine=engine, clock=clock, sms=FakeSmsSender())) as test_client:
        yield test_client


@hypothesis_settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, sender=st.sampled_from(SENDERS), minutes=st.sampled_from([0, 0, 0, 5, 31]))
def test_arbitrary_bodies_never_get_a_500(
    client: TestClient, clock: FixedClock, body: str, sender: str, minutes: int
) -> None:
    clock.advance(minutes=minutes)
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound", form)})
    assert response.status_code == 200, response.text
    for sms in twiml_messages(response.text):
        assert sms and is_gsm7(sms)
        assert count_segments(sms).segments == 1
        assert "Désolé, notre service est momentanément indisponible" not in sms, "a handler failed"


def test_every_fuzzed_message_was_stored_once(client: TestClient, engine: Engine) -> None:
    for number, body in enumerate(["😀" * 1600, "\x00", "", "R" * 1600]):
        form = {"MessageSid": f"SM{number:032d}", "From": SENDERS[0], "To": OUR_NUMBER, "Body": body}
        response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound", form)})
        assert response.status_code == 200
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(t.InboundMessage)).one() == 4


# --------------------------------------------------------------------------- a reply whenever one is due

RESIDENT_PHRASES = [
    "stop svp", "arretez de m'envoyer des messages", "je ne veux plus de sms", "c'est qui ?", "mauvais numero",
    "j'ai besoin d'aide", "c'est ou ?", "quels papiers je dois amener ?", "c'est a quelle heure deja ?",
    "merci bonne journee", "je voudrais annuler mon rendez-vous", "je ne pourrai pas venir", "le premier",
    "celui de 10h", "plutot mercredi", "le plus tot possible", "bonjour je voudrais un rdv a chatel guyon pour la caf",
    "carte vitale", "passeport", "pour mes impots", "oui je veux bien merci", "non c'est trop tot", "yes", "Yes",
    "👍", "merci 🙏", "RDV RDV", "23000", "23260", "ok merci", "je voudrais un autre rendez vous",
]  # fmt: skip
#: What the dialogue may read a message as and still rightly answer nothing: acknowledgements
#: when nothing was asked, and Twilio's own keywords (Twilio answers those itself).
MAY_BE_SILENT = {"thanks", "yes", "no", "opt_out_silent", "opt_in_silent"}

sentences = st.one_of(
    st.sampled_from(DIALOGUE_WORDS + RESIDENT_PHRASES),
    st.lists(st.sampled_from(DIALOGUE_WORDS + RESIDENT_PHRASES), min_size=2, max_size=4).map(" ".join),
    st.text(max_size=60),
)


def _queued_now(engine: Engine, sender: str, after: int, now) -> list[t.Message]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        rows = session.exec(select(t.Message).where(t.Message.recipient == sender, t.Message.id > after)).all()  # type: ignore[operator]
    return [row for row in rows if row.due_at <= now]


def _last_message_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.coalesce(func.max(t.Message.id), 0))).one())


def _opted_out(engine: Engine, sender: str) -> bool:
    with Session(engine) as session:
        resident = session.exec(select(t.Resident).where(t.Resident.phone == sender)).first()
    return resident is not None and resident.opted_out


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=sentences, sender=st.sampled_from(SENDERS[:2]), minutes=st.sampled_from([0, 0, 0, 5, 31]))
def test_a_reply_is_never_empty_when_due_and_never_over_its_budget(
    client: TestClient, engine: Engine, clock: FixedClock, caplog: pytest.LogCaptureFixture, body: str, sender: str,
    minutes: int,
) -> None:
    """Whatever residents write, in whatever state: a 200, a reply unless silence is right, one segment each.

    Silence is right only for an opted-out number, for acknowledgements with nothing asked
    ("merci", "ok" when idle) and for Twilio's own keywords; a booking or a cancellation
    answers through the outbox (the confirmation may use two segments).
    """
    clock.advance(minutes=minutes)
    if _opted_out(engine, sender):  # opted back in first, so that the examples test replies, not silence
        start = {"MessageSid": "SM" + uuid.uuid4().hex, "From": sender, "To": OUR_NUMBER, "Body": "START"}
        client.post("/sms/inbound", data=start, headers={"X-Twilio-Signature": sign("/sms/inbound", start)})
    opted_out_before = _opted_out(engine, sender)
    assert not opted_out_before
    last = _last_message_id(engine)
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": sender, "To": OUR_NUMBER,
            "Body": body, "NumMedia": "0"}  # fmt: skip
    caplog.clear()
    with caplog.at_level("INFO", logger="mobile_services.conversation"):
        response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound", form)})
    assert response.status_code == 200, response.text
    replies = twiml_messages(response.text)
    queued = _queued_now(engine, sender, last, clock.now())
    for sms in replies:
        assert sms and is_gsm7(sms) and count_segments(sms).segments == 1, sms
    for message in queued:
        budget = 2 if message.kind in ("confirmation",) else 1
        assert is_gsm7(message.body) and count_segments(message.body).segments <= budget, message.body
    readings = [r.getMessage().split("read as ", 1)[1].split(",", 1)[0] for r in caplog.records if "read as" in r.getMessage()]
    assert len(readings) == 1, readings
    silent_is_right = _opted_out(engine, sender) or readings[0] in MAY_BE_SILENT
    assert replies or queued or silent_is_right, f"{body!r} read as {readings[0]} got no reply"
