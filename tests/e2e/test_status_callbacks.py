"""Status callbacks over HTTP, signed exactly as Twilio signs them: only a sent row moves.

A callback names its row by the ``outbox_id`` in the URL we gave Twilio; it may move
that row only if the row left with a SID and the callback carries that same SID.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.storage import tables as t
from tests.e2e.conftest import TwilioWebhooks
from tests.fixtures.valley import NOW

RESIDENT = "+33612345678"
SID = "SM" + "d" * 32


def make_row(engine: Engine, **fields: object) -> int:
    with Session(engine) as session:
        resident = t.Resident(phone=RESIDENT)
        session.add(resident)
        session.flush()
        message = t.Message(
            recipient=RESIDENT, resident_id=resident.id, kind="confirmation", body="RDV confirmé",
            idempotency_key=f"test:{len(fields)}:{sorted(fields)}", due_at=NOW, **fields,
        )  # fmt: skip
        session.add(message)
        session.commit()
        return message.id  # type: ignore[return-value]


def callback(twilio: TwilioWebhooks, query: str, status: str = "delivered", sid: str = SID, **extra: str) -> httpx.Response:
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "AC" + "0" * 32, "To": RESIDENT, "ApiVersion": "2010-04-01", **extra}  # fmt: skip
    return twilio.post(f"/sms/status?{query}", form)


def snapshot(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(t.Message).order_by(t.Message.id)).all()
        residents = session.exec(select(t.Resident)).all()
    return [(m.id, m.status, m.provider_sid, m.provider_status, m.error_code, m.sent_at) for m in rows] + [
        (r.id, r.unreachable, r.opted_out) for r in residents
    ]


def test_a_sent_row_moves_with_its_own_sid(twilio: TwilioWebhooks, engine: Engine) -> None:
    row = make_row(engine, status="sent", provider_sid=SID, provider_status="accepted")
    assert callback(twilio, f"outbox_id={row}", "delivered").status_code == 204
    with Session(engine) as session:
        message = session.get(t.Message, row)
    assert message is not None and (message.status, message.provider_status) == ("delivered", "delivered")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"status": "pending"}, id="never-sent"),
        pytest.param({"status": "unknown", "error_code": "timeout"}, id="uncertain-without-sid"),
        pytest.param({"status": "sending"}, id="in-flight"),
        pytest.param({"status": "failed", "error_code": "21211"}, id="refused-at-creation"),
    ],
)
def test_a_row_that_was_not_sent_does_not_move(twilio: TwilioWebhooks, engine: Engine, fields: dict[str, str]) -> None:
    row = make_row(engine, **fields)
    before = snapshot(engine)
    response = callback(twilio, f"outbox_id={row}", "failed", ErrorCode="21610")
    assert response.status_code == 409
    assert snapshot(engine) == before


def test_another_sid_does_not_move_a_sent_row(twilio: TwilioWebhooks, engine: Engine) -> None:
    row = make_row(engine, status="sent", provider_sid=SID, provider_status="accepted")
    before = snapshot(engine)
    response = callback(twilio, f"outbox_id={row}", "failed", sid="SM" + "e" * 32, ErrorCode="21610")
    assert response.status_code == 409
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "query, expected",
    [
        pytest.param("outbox_id=99999", 404, id="no-such-row"),
        pytest.param("outbox_id=2147483648", 400, id="past-32-bits"),
        pytest.param("outbox_id=99999999999999999999999", 400, id="past-64-bits"),
        pytest.param("outbox_id=0", 400, id="zero"),
        pytest.param("outbox_id=-3", 400, id="negative"),
        pytest.param("outbox_id=1e3", 400, id="not-an-integer"),
    ],
)
def test_an_id_we_never_issued_gets_a_4xx_and_changes_nothing(
    twilio: TwilioWebhooks, engine: Engine, query: str, expected: int
) -> None:
    make_row(engine, status="sent", provider_sid=SID, provider_status="accepted")
    before = snapshot(engine)
    response = callback(twilio, query, "failed", ErrorCode="21610")
    assert response.status_code == expected
    assert snapshot(engine) == before


def test_a_refused_callback_is_logged_without_number_or_raw_query(
    twilio: TwilioWebhooks, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    row = make_row(engine, status="pending")
    callback(twilio, f"outbox_id={row}", "delivered", Body="secret")
    assert callback(twilio, "outbox_id=99999999999999999999999").status_code == 400
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mobile_services"))
    assert "refused" in ours
    assert RESIDENT not in ours and "99999999999999999999999" not in ours and "secret" not in ours


def test_a_malformed_request_is_logged_by_its_route_template_not_its_raw_path(
    twilio: TwilioWebhooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    secret = "abc.def"  # not a valid token: refused before any handler, with the path in hand
    assert twilio.client.get(f"/r/{'x' * 20}{secret}").status_code == 400
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mobile_services"))
    assert "bad request on /r/{token}" in ours
    assert secret not in ours
