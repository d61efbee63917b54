"""The fake Twilio server itself answers like Twilio where the tests rely on it."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.fakes.fake_twilio import FakeTwilioServer, Fault


def messages_url(fake: FakeTwilioServer) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


def test_create_then_fetch_a_message(fake_twilio: FakeTwilioServer) -> None:
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    created = httpx.post(
        messages_url(fake_twilio),
        data={"To": "+33612345678", "From": "+33939000000", "Body": "ç" * 71},
        auth=auth,
    )
    assert created.status_code == 201
    message = created.json()
    assert message["status"] == "queued"  # a From number, not a Messaging Service
    assert message["num_segments"] == "2"  # UCS-2, 71 characters
    assert message["uri"].endswith(f"/Messages/{message['sid']}.json")
    fetched = httpx.get(f"{fake_twilio.base_url}{message['uri']}", auth=auth)
    assert fetched.status_code == 200 and fetched.json()["sid"] == message["sid"]
    fake_twilio.set_status(message["sid"], "undelivered", error_code=30006)
    again = httpx.get(f"{fake_twilio.base_url}{message['uri']}", auth=auth).json()
    assert (again["status"], again["error_code"]) == ("undelivered", 30006)


def test_errors_have_twilios_shape(fake_twilio: FakeTwilioServer) -> None:
    fake_twilio.fail_next(Fault.invalid_number())
    response = httpx.post(
        messages_url(fake_twilio),
        data={"To": "+3361234", "MessagingServiceSid": "MG1", "Body": "x"},
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": 21211,
        "message": "Invalid 'To' Phone Number: +3361234",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }


def test_basic_auth_and_required_fields_are_checked(fake_twilio: FakeTwilioServer) -> None:
    unauthenticated = httpx.post(messages_url(fake_twilio), data={"To": "+33612345678", "Body": "x"})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == 20003
    auth = (fake_twilio.account_sid, fake_twilio.auth_token)
    no_sender = httpx.post(messages_url(fake_twilio), data={"To": "+33612345678", "Body": "x"}, auth=auth)
    assert no_sender.json()["code"] == 21606
    no_body = httpx.post(messages_url(fake_twilio), data={"To": "+33612345678", "From": "+33939000000"}, auth=auth)
    assert no_body.json()["code"] == 21602
    unknown = httpx.get(f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/SM{'0' * 32}.json", auth=auth)
    assert unknown.status_code == 404
    assert len(fake_twilio.requests) == 4
    assert fake_twilio.messages == []


def test_stopping_during_a_slow_answer_is_prompt() -> None:
    fake = FakeTwilioServer().start()
    fake.fail_next(Fault.slow(delay_s=30))

    def call() -> None:
        try:
            httpx.post(
                messages_url(fake),
                data={"To": "+33612345678", "From": "+33939000000", "Body": "x"},
                auth=(fake.account_sid, fake.auth_token),
                timeout=0.2,
            )
        except httpx.TimeoutException:
            pass

    caller = threading.Thread(target=call)
    caller.start()
    caller.join()
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    assert len(fake.messages) == 1


def test_keep_alive_serves_many_requests_on_one_connection_and_stop_closes_it() -> None:
    fake = FakeTwilioServer(keep_alive=True).start()
    url = messages_url(fake)
    with httpx.Client(auth=(fake.account_sid, fake.auth_token)) as client:
        for n in range(5):
            response = client.post(url, data={"To": "+33612345678", "From": "+33939000000", "Body": f"{n}"})
            assert response.status_code == 201 and response.http_version == "HTTP/1.1"
        assert fake.connections_opened == 1
        started = time.monotonic()
        fake.stop()  # the client's pooled connection is still open
        assert time.monotonic() - started < 2
        with pytest.raises(httpx.TransportError):  # closed with the server, not served by a leftover thread
            client.get(url)
    assert len(fake.messages) == 5


def test_every_creation_can_be_answered_late_as_twilio_does() -> None:
    with FakeTwilioServer(response_delay_s=0.2) as fake:
        started = time.monotonic()
        response = httpx.post(
            messages_url(fake), data={"To": "+33612345678", "From": "+33939000000", "Body": "x"},
            auth=(fake.account_sid, fake.auth_token),
        )
        assert response.status_code == 201
        assert time.monotonic() - started >= 0.2
        fetched = httpx.get(f"{fake.base_url}{response.json()['uri']}", auth=(fake.account_sid, fake.auth_token))
        assert fetched.status_code == 200  # reads are not delayed
