"""The Twilio webhooks over HTTP: signatures, redeliveries, bad input, delivery status callbacks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from config import Settings
from mobile_services.bootstrap import bootstrap
from mobile_services.domain.commands import ReceiveSms
from mobile_services.storage import tables as t
from mobile_services.web.app import create_app
from notifications.fakes import FakeSmsSender
from notifications.ports import FixedClock
from tests.e2e.conftest import Resident, TwilioWebhooks, sign, twiml_messages
from tests.fixtures.valley import NOW

SENDER = "+33612345678"


def stored_inbound(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(t.InboundMessage)).one())


# --------------------------------------------------------------------------- signatures


def test_a_correctly_signed_sms_is_answered_and_stored(twilio: TwilioWebhooks, engine: Engine) -> None:
    response = twilio.inbound("RDV", sender=SENDER)
    assert response.status_code == 200
    assert twiml_messages(response.text) == [  # a first contact: who writes, in the same SMS
        "Bonjour ! Ici le bus France Services (Pays de Guéret). Pour prendre RDV, répondez avec le nom de votre commune."
    ]
    assert stored_inbound(engine) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda form: {}, id="no-signature"),
        pytest.param(lambda form: {"X-Twilio-Signature": ""}, id="empty-signature"),
        pytest.param(lambda form: {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, id="garbage"),
        pytest.param(lambda form: {"X-Twilio-Signature": sign("/sms/inbound", form, token="f" * 32)}, id="other-token"),
        # Signed for the URL uvicorn sees rather than the public one Twilio calls:
        # what a naive app behind a proxy would compute; Twilio never signs that.
        pytest.param(lambda form: {"X-Twilio-Signature": sign("/sms/inbound", form, base="http://127.0.0.1:8000")},
                     id="internal-url"),
        pytest.param(lambda form: {"X-Twilio-Signature": sign("/sms/status", form)}, id="other-path"),
    ],
)
def test_a_forged_sms_gets_403_and_stores_nothing(twilio: TwilioWebhooks, engine: Engine, forge) -> None:  # type: ignore[no-untyped-def]
    form = twilio.inbound_form("RDV", sender=SENDER)
    response = twilio.client.post("/sms/inbound", data=form, headers=forge(form))
    assert response.status_code == 403
    assert stored_inbound(engine) == 0
    with Session(engine) as session:
        assert session.exec(select(t.Conversation)).all() == []


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda form: {**form, "Body": "ANNULER"}, id="body"),
        pytest.param(lambda form: {**form, "From": "+33698765432"}, id="sender"),
        pytest.param(lambda form: {**form, "MessageSid": "SM" + "e" * 32}, id="sid"),
        pytest.param(lambda form: {**form, "OptOutType": "STOP"}, id="added-field"),
    ],
)
def test_a_replay_with_an_altered_form_gets_403_and_stores_nothing(twilio: TwilioWebhooks, engine: Engine, alter) -> None:  # type: ignore[no-untyped-def]
    form = twilio.inbound_form("RDV", sender=SENDER)
    genuine_signature = sign("/sms/inbound", form)
    response = twilio.post("/sms/inbound", alter(form), signature=genuine_signature)
    assert response.status_code == 403
    assert stored_inbound(engine) == 0


def test_a_query_string_is_part_of_what_is_signed(twilio: TwilioWebhooks) -> None:
    form = twilio.inbound_form("RDV", sender=SENDER)
    signed_without_query = sign("/sms/inbound", form)
    response = twilio.client.post("/sms/inbound?x=1", data=form, headers={"X-Twilio-Signature": signed_without_query})
    assert response.status_code == 403
    response = twilio.client.post(
        "/sms/inbound?x=1", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound?x=1", form)}
    )
    assert response.status_code == 200


# --------------------------------------------------------------------------- redeliveries


def test_a_redelivery_gets_the_same_answer_and_runs_the_dialogue_once(
    resident: Resident, clock: FixedClock, engine: Engine
) -> None:
    assert resident.says("RDV Guéret")[0].startswith("Créneaux à Guéret")
    first = resident.says("2", sid="SM" + "a" * 32)
    clock.advance(minutes=1)
    again = resident.says("2", sid="SM" + "a" * 32)
    assert again == first and first[0].startswith("Confirmer le RDV")
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(t.InboundMessage)).one() == 2
        conversation = session.exec(select(t.Conversation)).one()
    assert conversation.state == "confirming"
    assert conversation.updated_at == clock.now() - timedelta(minutes=1), "the redelivery did not touch it"


def test_a_redelivered_oui_books_once(resident: Resident, engine: Engine) -> None:
    resident.says("RDV Guéret")
    resident.says("1")
    confirmation = resident.says("OUI", sid="SM" + "b" * 32)
    assert confirmation[0].startswith("RDV confirmé")
    assert resident.says("OUI", sid="SM" + "b" * 32) == []  # empty TwiML again, and no new SMS queued
    with Session(engine) as session:
        assert len(session.exec(select(t.Booking)).all()) == 1


def test_concurrent_redeliveries_store_one_row_and_agree(twilio: TwilioWebhooks, engine: Engine) -> None:
    form = twilio.inbound_form("Guéret", sender=SENDER, sid="SM" + "c" * 32)
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: twilio.post("/sms/inbound", form), range(6)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses}) == 1
    assert twiml_messages(responses[0].text)[0].startswith("Créneaux à Guéret")
    assert stored_inbound(engine) == 1


def test_first_messages_of_many_numbers_at_once_all_get_their_answer(twilio: TwilioWebhooks, engine: Engine) -> None:
    senders = [f"+3361234{i:04d}" for i in range(12)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda number: twilio.inbound("RDV", sender=number), senders))
    assert all(r.status_code == 200 and "nom de votre commune" in r.text for r in responses)
    with Session(engine) as session:
        assert len(session.exec(select(t.Conversation)).all()) == 12


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"Body=%FF%FE&From=%2B33612345678", "application/x-www-form-urlencoded", id="invalid-utf8"),
        pytest.param("Body=é".encode(), "application/x-www-form-urlencoded", id="raw-non-ascii"),
        pytest.param(b'{"Body": "RDV"}', "application/json", id="json"),
        pytest.param(
            b'--x\r\nContent-Disposition: form-data; name="Body"\r\n\r\nRDV\r\n--x--',
            "multipart/form-data; boundary=x",
            id="multipart",
        ),
    ],
)
def test_an_undecodable_form_is_a_400(twilio: TwilioWebhooks, engine: Engine, content: bytes, content_type: str) -> None:
    response = twilio.client.post(
        "/sms/inbound", content=content, headers={"Content-Type": content_type, "X-Twilio-Signature": "x"}
    )
    assert response.status_code == 400
    assert stored_inbound(engine) == 0


def test_a_huge_request_is_refused_before_reading_it_all(twilio: TwilioWebhooks) -> None:
    response = twilio.client.post(
        "/sms/inbound", content=b"Body=" + b"a" * 200_000, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_a_signed_form_without_a_required_field_is_a_400(twilio: TwilioWebhooks, engine: Engine, missing: str) -> None:
    form = twilio.inbound_form("RDV", sender=SENDER)
    del form[missing]
    response = twilio.post("/sms/inbound", form)
    assert response.status_code == 400
    assert stored_inbound(engine) == 0


def test_a_sender_that_is_not_a_phone_number_is_stored_and_not_answered(twilio: TwilioWebhooks, engine: Engine) -> None:
    response = twilio.inbound("RDV", sender="MAIRIE")
    assert response.status_code == 200 and twiml_messages(response.text) == []
    assert stored_inbound(engine) == 1


def test_a_body_with_nul_and_control_characters_is_stored_clean(twilio: TwilioWebhooks, engine: Engine) -> None:
    response = twilio.inbound("R\x00D\x07V", sender=SENDER)
    assert response.status_code == 200
    assert "nom de votre commune" in response.text
    with Session(engine) as session:
        assert session.exec(select(t.InboundMessage.body)).one() == "RDV"


def test_twilio_advanced_opt_out_is_mirrored_without_a_reply(twilio: TwilioWebhooks, engine: Engine) -> None:
    # A custom opt-out keyword configured in Twilio's console: Twilio already answered.
    response = twilio.inbound("DESINSCRIPTION", sender=SENDER, OptOutType="STOP")
    assert response.status_code == 200 and twiml_messages(response.text) == []
    with Session(engine) as session:
        assert session.exec(select(t.Resident)).one().opted_out


# --------------------------------------------------------------------------- status callbacks


@pytest.fixture
def sent_message(engine: Engine) -> int:
    """An outbox row already handed to Twilio (status sent, SID known), to a known resident."""
    with Session(engine) as session:
        resident = t.Resident(phone=SENDER)
        session.add(resident)
        session.flush()
        message = t.Message(
            recipient=SENDER, resident_id=resident.id, kind="confirmation", body="RDV confirmé",
            idempotency_key="test:1", due_at=NOW,
            status="sent", provider_sid="SM" + "d" * 32, provider_status="queued",
        )  # fmt: skip
        session.add(message)
        session.commit()
        return message.id  # type: ignore[return-value]


def callback(twilio: TwilioWebhooks, outbox_id: int, status: str, error_code: str | None = None) -> httpx.Response:
    form = {"MessageSid": "SM" + "d" * 32, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, "To": SENDER}
    if error_code:
        form["ErrorCode"] = error_code
    return twilio.post(f"/sms/status?outbox_id={outbox_id}", form)


def message_row(engine: Engine, outbox_id: int) -> t.Message:
    with Session(engine) as session:
        row = session.get(t.Message, outbox_id)
        assert row is not None
        return row


def test_status_callbacks_only_move_forward(twilio: TwilioWebhooks, engine: Engine, sent_message: int) -> None:
    assert callback(twilio, sent_message, "delivered").status_code == 204
    assert callback(twilio, sent_message, "sent").status_code == 204  # late, out of order
    assert callback(twilio, sent_message, "delivered").status_code == 204  # duplicate
    row = message_row(engine, sent_message)
    assert (row.status, row.provider_status) == ("delivered", "delivered")


def test_a_permanent_error_flags_the_resident(twilio: TwilioWebhooks, engine: Engine, sent_message: int) -> None:
    assert callback(twilio, sent_message, "failed", "21610").status_code == 204
    assert callback(twilio, sent_message, "failed", "21610").status_code == 204
    row = message_row(engine, sent_message)
    assert (row.status, row.error_code) == ("failed", "21610")
    with Session(engine) as session:
        resident = session.exec(select(t.Resident)).one()
        journal = session.exec(select(t.EventLog).where(t.EventLog.name == "ResidentUnreachable")).all()
    assert resident.unreachable and resident.opted_out
    assert len(journal) == 1, "the second, identical callback changed nothing"


def test_an_unsigned_status_callback_changes_nothing(twilio: TwilioWebhooks, engine: Engine, sent_message: int) -> None:
    form = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "failed", "ErrorCode": "21610"}
    response = twilio.post(f"/sms/status?outbox_id={sent_message}", form, signature=sign("/sms/status", form))
    assert response.status_code == 403, "signed without the query string that carries the outbox id"
    assert message_row(engine, sent_message).status == "sent"


def test_a_status_callback_without_a_status_is_a_400(twilio: TwilioWebhooks, sent_message: int) -> None:
    response = twilio.post(f"/sms/status?outbox_id={sent_message}", {"MessageSid": "SM" + "d" * 32})
    assert response.status_code == 400


# --------------------------------------------------------------------------- health


def test_healthz_says_the_database_answers(twilio: TwilioWebhooks) -> None:
    response = twilio.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


# --------------------------------------------------------------------------- our own failures


def test_a_failure_on_our_side_gets_an_apology_not_a_500(
    settings: Settings, engine: Engine, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(command: ReceiveSms) -> None:
        raise RuntimeError(f"database said no to {command.from_number}")

    bus = bootstrap(settings, engine=engine, clock=clock, sms=FakeSmsSender())
    bus.command_handlers[ReceiveSms] = broken
    form = {"MessageSid": "SM" + "f" * 32, "From": SENDER, "To": "+33939000000", "Body": "RDV"}
    with TestClient(create_app(settings, bus=bus)) as client:
        response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": sign("/sms/inbound", form)})
    assert response.status_code == 200
    assert twiml_messages(response.text) == [
        "Désolé, notre service est momentanément indisponible. Merci de renvoyer votre message dans quelques minutes."
    ]
    assert "RuntimeError" in caplog.text and SENDER not in caplog.text
    assert stored_inbound(engine) == 0, "nothing stored: the resident's next try starts clean"
