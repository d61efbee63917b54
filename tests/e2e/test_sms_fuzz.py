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
