"""The real TwilioSmsSender (official client) against the fake Twilio server, one test per outcome."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from twilio.rest import Client

from notifications.ports import OutgoingSms, SendOutcome
from notifications.twilio_sms import TwilioSmsSender
from tests.fakes.fake_twilio import FakeTwilioServer, Fault, blackhole_base_url, refused_base_url

SenderFactory = Callable[..., TwilioSmsSender]

MESSAGING_SERVICE_SID = "MG" + "0" * 31 + "1"
PUBLIC_BASE_URL = "https://rdv.example.fr"
RESIDENT = "+33612345678"
OTHER = "+33698765432"


@pytest.fixture
def make_sender(fake_twilio: FakeTwilioServer) -> SenderFactory:
    """Build the real TwilioSmsSender pointed at the fake (or at another `api_base_url`)."""

    def build(*, api_base_url: str | None = None, timeout: float = 5) -> TwilioSmsSender:
        return TwilioSmsSender(
            account_sid=fake_twilio.account_sid,
            auth_token=fake_twilio.auth_token,
            messaging_service_sid=MESSAGING_SERVICE_SID,
            status_callback_base_url=PUBLIC_BASE_URL,
            api_base_url=api_base_url or fake_twilio.base_url,
            timeout=timeout,
        )

    return build


def sms(to: str = RESIDENT, outbox_id: int | None = 42, validity: int | None = 3600) -> OutgoingSms:
    return OutgoingSms(
        to=to,
        body="Rappel : RDV le mar. 8 déc. à 14h30, Mairie, Crocq.",
        idempotency_key=f"reminder-{outbox_id}",
        outbox_id=outbox_id,
        validity_period_s=validity,
    )


def test_a_message_is_created_with_the_messaging_service_callback_and_validity(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    result = make_sender().send(sms())
    assert result.outcome is SendOutcome.SENT
    assert result.provider_sid is not None and re.fullmatch(r"SM[0-9a-f]{32}", result.provider_sid)
    assert result.provider_status == "accepted"
    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert request.authorized
    assert request.field("To") == RESIDENT
    assert request.field("MessagingServiceSid") == MESSAGING_SERVICE_SID
    assert request.field("From") is None
    assert request.field("StatusCallback") == "https://rdv.example.fr/sms/status?outbox_id=42"
    assert request.field("ValidityPeriod") == "3600"
    assert request.field("Body") == sms().body
    [stored] = fake_twilio.messages
    assert stored["sid"] == result.provider_sid
    assert stored["num_segments"] == "1"


def test_validity_is_omitted_when_not_given(fake_twilio: FakeTwilioServer, make_sender: SenderFactory) -> None:
    make_sender().send(sms(validity=None, outbox_id=None))
    [request] = fake_twilio.requests
    assert "ValidityPeriod" not in request.form
    assert request.field("StatusCallback") == "https://rdv.example.fr/sms/status"


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault.unsubscribed(), 21610), (Fault.invalid_number(), 21211), (Fault.not_mobile(), 21614)],
    ids=["unsubscribed", "invalid", "landline"],
)
def test_recipient_errors_are_permanent(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory, fault: Fault, code: int
) -> None:
    fake_twilio.fail_next(fault)
    result = make_sender().send(sms())
    assert result.outcome is SendOutcome.PERMANENT_ERROR
    assert result.error_code == code
    assert result.http_status == 400
    assert result.recipient_unreachable
    assert fake_twilio.messages == []


def test_a_rate_limit_is_retryable_with_retry_after(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    fake_twilio.fail_next(Fault.rate_limited(retry_after_s=30))
    result = make_sender().send(sms())
    assert result.outcome is SendOutcome.RETRYABLE
    assert (result.http_status, result.error_code, result.retry_after_s) == (429, 20429, 30)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retryable_and_the_client_does_not_retry_by_itself(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory, status: int
) -> None:
    fake_twilio.fail_next(Fault.server_error(status))
    result = make_sender().send(sms())
    assert result.outcome is SendOutcome.RETRYABLE
    assert result.http_status == status
    assert len(fake_twilio.requests) == 1  # one attempt: backoff is the dispatcher's job


def test_a_retry_after_a_scripted_failure_goes_through(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    fake_twilio.fail_next(Fault.server_error(), times=2)
    sender = make_sender()
    outcomes = [sender.send(sms()).outcome for _ in range(3)]
    assert outcomes == [SendOutcome.RETRYABLE, SendOutcome.RETRYABLE, SendOutcome.SENT]
    assert len(fake_twilio.messages) == 1


def test_a_failing_number_does_not_affect_others(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    fake_twilio.fail_number(RESIDENT, Fault.unsubscribed())
    sender = make_sender()
    assert sender.send(sms(to=RESIDENT)).outcome is SendOutcome.PERMANENT_ERROR
    assert sender.send(sms(to=OTHER)).outcome is SendOutcome.SENT
    assert sender.send(sms(to=RESIDENT)).outcome is SendOutcome.PERMANENT_ERROR
    assert [m["to"] for m in fake_twilio.messages] == [OTHER]


def test_a_read_timeout_is_unknown_because_twilio_may_have_the_message(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    fake_twilio.fail_next(Fault.slow(delay_s=3))
    started = time.monotonic()
    result = make_sender(timeout=0.5).send(sms())
    assert time.monotonic() - started < 2.5
    assert result.outcome is SendOutcome.UNKNOWN
    # The fake, like Twilio, created the message although the client gave up:
    # a blind retry would have sent the resident a second SMS.
    assert len(fake_twilio.messages_to(RESIDENT)) == 1
    assert len(fake_twilio.requests) == 1


def test_a_connection_dropped_after_sending_is_unknown(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    fake_twilio.fail_next(Fault.dropped())
    result = make_sender().send(sms())
    assert result.outcome is SendOutcome.UNKNOWN
    assert len(fake_twilio.requests) == 1


def test_connection_refused_is_retryable(make_sender: SenderFactory) -> None:
    result = make_sender(api_base_url=refused_base_url()).send(sms())
    assert result.outcome is SendOutcome.RETRYABLE


def test_a_connect_timeout_is_retryable(make_sender: SenderFactory) -> None:
    with blackhole_base_url() as url:
        started = time.monotonic()
        result = make_sender(api_base_url=url, timeout=0.3).send(sms())
    assert time.monotonic() - started < 2
    assert result.outcome is SendOutcome.RETRYABLE
    assert result.error_message == "connect timeout"


def test_wrong_credentials_are_retryable_and_reported(fake_twilio: FakeTwilioServer) -> None:
    sender = TwilioSmsSender(
        account_sid=fake_twilio.account_sid,
        auth_token="not-the-token",
        messaging_service_sid=MESSAGING_SERVICE_SID,
        status_callback_base_url=PUBLIC_BASE_URL,
        api_base_url=fake_twilio.base_url,
    )
    result = sender.send(sms())
    assert result.outcome is SendOutcome.RETRYABLE
    assert (result.http_status, result.error_code) == (401, 20003)
    assert not fake_twilio.requests[0].authorized


def test_twilio_region_and_edge_variables_do_not_redirect_the_sender(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without this, the client would rewrite 127.0.0.1 into "127.sydney.au1.1".
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    assert make_sender().send(sms()).outcome is SendOutcome.SENT
    assert len(fake_twilio.messages) == 1


def test_one_sender_serves_concurrent_dispatch_workers(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    sender = make_sender()
    numbers = [f"+336000000{i:02d}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: sender.send(sms(to=n)), numbers))
    assert all(r.outcome is SendOutcome.SENT for r in results)
    assert len({r.provider_sid for r in results}) == 20
    assert sorted(m["to"] for m in fake_twilio.messages) == numbers


def test_concurrent_senders_keep_one_connection_each_to_a_keep_alive_server() -> None:
    with FakeTwilioServer(keep_alive=True) as fake:
        sender = TwilioSmsSender(
            fake.account_sid, fake.auth_token, MESSAGING_SERVICE_SID, PUBLIC_BASE_URL, api_base_url=fake.base_url,
            pool_size=4,
        )
        numbers = [f"+336000000{i:02d}" for i in range(40)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda n: sender.send(sms(to=n)), numbers))
        assert all(r.outcome is SendOutcome.SENT for r in results)
        assert fake.connections_opened <= 4, "a pooled, kept-alive connection per concurrent sender"


def test_the_proxy_environment_is_read_when_the_sender_is_built(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = make_sender()
    monkeypatch.setenv("HTTP_PROXY", refused_base_url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert direct.send(sms()).outcome is SendOutcome.SENT  # not re-read at each request (it cost a fifth of the CPU)
    assert make_sender().send(sms()).outcome is not SendOutcome.SENT  # honoured: through the (refused) proxy
    assert len(fake_twilio.messages) == 1


# --------------------------------------------------------------------------- reconciliation lookups


def test_fetch_reads_a_message_back_by_sid(fake_twilio: FakeTwilioServer, make_sender: SenderFactory) -> None:
    sender = make_sender()
    result = sender.send(sms())
    assert result.provider_sid is not None
    fake_twilio.set_status(result.provider_sid, "delivered")
    found = sender.fetch(result.provider_sid)
    assert found is not None
    assert (found.sid, found.to, found.body, found.status) == (result.provider_sid, RESIDENT, sms().body, "delivered")
    assert sender.fetch("SM" + "0" * 32) is None, "a 404 means Twilio has no such message"


def test_find_pages_through_a_numbers_history_newest_first(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    sender = make_sender()
    start = datetime.now(UTC) - timedelta(seconds=5)
    sids = [sender.send(sms(outbox_id=n)).provider_sid for n in range(1, 4)]
    sender.send(sms(to=OTHER, outbox_id=9))
    sender.send(OutgoingSms(to=RESIDENT, body="Autre texte", idempotency_key="other", outbox_id=10))
    found = sender.find(to=RESIDENT, body=sms().body, created_after=start)
    assert found is not None and [m.sid for m in found] == list(reversed(sids))
    assert sender.find(to=OTHER, body=sms().body, created_after=start + timedelta(hours=1)) == []
    lists = [r for r in fake_twilio.requests if r.method == "GET"]
    assert all(r.query["To"] in ([RESIDENT], [OTHER]) for r in lists)


def test_find_is_inconclusive_past_its_reading_limit(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("notifications.twilio_sms.LOOKUP_LIMIT", 3)
    sender = make_sender()
    start = datetime.now(UTC) - timedelta(seconds=5)
    for n in range(4):
        sender.send(OutgoingSms(to=RESIDENT, body=f"Message {n}", idempotency_key=f"k{n}", outbox_id=n + 1))
    assert sender.find(to=RESIDENT, body="Introuvable", created_after=start) is None
    assert sender.find(to=RESIDENT, body="Message 3", created_after=start) is None, "the window was not read to its start"


def test_the_fake_filters_the_list_on_the_send_date_as_twilio_does(
    fake_twilio: FakeTwilioServer, make_sender: SenderFactory
) -> None:
    """A message Twilio still queues has no DateSent: a DateSent filter misses it (why find() does not use one)."""
    sender = make_sender()
    queued = sender.send(sms(outbox_id=1)).provider_sid
    delivered = sender.send(sms(outbox_id=2)).provider_sid
    assert queued is not None and delivered is not None
    fake_twilio.set_status(delivered, "delivered")
    client = Client(fake_twilio.account_sid, fake_twilio.auth_token)
    client.api.base_url = fake_twilio.base_url
    since = datetime.now(UTC) - timedelta(minutes=1)
    listed = client.messages.list(to=RESIDENT, date_sent_after=since, page_size=1)
    assert [m.sid for m in listed] == [delivered]
    assert [m.sid for m in client.messages.list(to=RESIDENT, page_size=1)] == [delivered, queued]
