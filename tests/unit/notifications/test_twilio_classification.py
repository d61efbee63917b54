"""How TwilioSmsSender maps what went wrong to an outbox decision (no network here)."""

from __future__ import annotations

import json

import pytest
import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from notifications.ports import SendOutcome
from notifications.twilio_sms import TwilioSmsSender, classify_exception

URI = "/Accounts/AC123/Messages.json"


def rest_error(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, URI, "Unable to create record: x", code, "POST")


@pytest.mark.parametrize("code", [21610, 21211, 21614, 21408, 21612])
def test_recipient_errors_are_permanent_and_flag_the_resident(code: int) -> None:
    result = classify_exception(rest_error(400, code))
    assert result.outcome is SendOutcome.PERMANENT_ERROR
    assert result.error_code == code
    assert result.http_status == 400
    assert result.recipient_unreachable


def test_other_request_errors_are_permanent_without_blaming_the_resident() -> None:
    result = classify_exception(rest_error(400, 21606))
    assert result.outcome is SendOutcome.PERMANENT_ERROR
    assert not result.recipient_unreachable
    assert classify_exception(rest_error(404, 20404)).outcome is SendOutcome.PERMANENT_ERROR


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (502, None), (503, 20503)])
def test_rate_limits_and_server_errors_are_retryable(status: int, code: int | None) -> None:
    result = classify_exception(rest_error(status, code))
    assert result.outcome is SendOutcome.RETRYABLE
    assert result.http_status == status


def test_retry_after_is_read_from_the_response_headers() -> None:
    assert classify_exception(rest_error(429, 20429), {"Retry-After": "12"}).retry_after_s == 12
    assert classify_exception(rest_error(429, 20429), {"retry-after": "1.5"}).retry_after_s == 1.5
    assert classify_exception(rest_error(429, 20429), {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}).retry_after_s is None
    assert classify_exception(rest_error(429, 20429), None).retry_after_s is None


@pytest.mark.parametrize("status", [401, 403])
def test_credential_errors_are_retryable_so_messages_survive_a_fix(status: int) -> None:
    assert classify_exception(rest_error(status, 20003)).outcome is SendOutcome.RETRYABLE


def test_rfc9457_service_errors_are_classified_like_legacy_ones() -> None:
    permanent = TwilioServiceException("https://x/21211", "Invalid", 400, 21211, detail="bad To")
    assert classify_exception(permanent).outcome is SendOutcome.PERMANENT_ERROR
    assert classify_exception(permanent).error_message == "bad To"
    retry = TwilioServiceException("https://x/20500", "Oops", 500, 20500)
    assert classify_exception(retry).outcome is SendOutcome.RETRYABLE


def _wrapped(reason: Exception) -> requests.exceptions.ConnectionError:
    """What requests raises: its ConnectionError around urllib3's MaxRetryError."""
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def test_connection_never_established_is_retryable() -> None:
    refused = _wrapped(urllib3.exceptions.NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    assert classify_exception(refused).outcome is SendOutcome.RETRYABLE
    dns = _wrapped(urllib3.exceptions.NameResolutionError("api.twilio.com", None, OSError()))  # type: ignore[arg-type]
    assert classify_exception(dns).outcome is SendOutcome.RETRYABLE
    assert classify_exception(requests.exceptions.ConnectTimeout()).outcome is SendOutcome.RETRYABLE
    assert classify_exception(requests.exceptions.SSLError()).outcome is SendOutcome.RETRYABLE


def test_anything_after_the_request_left_is_unknown() -> None:
    assert classify_exception(requests.exceptions.ReadTimeout()).outcome is SendOutcome.UNKNOWN
    aborted = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    )
    assert classify_exception(aborted).outcome is SendOutcome.UNKNOWN
    assert classify_exception(requests.exceptions.ChunkedEncodingError()).outcome is SendOutcome.UNKNOWN
    assert classify_exception(json.JSONDecodeError("x", "", 0)).outcome is SendOutcome.UNKNOWN


def test_our_transports_urllib3_errors_are_classified_the_same_way() -> None:
    """`_PooledHttpClient` retries nothing, so urllib3's exceptions reach us unwrapped."""
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    assert classify_exception(refused).outcome is SendOutcome.RETRYABLE
    dns = urllib3.exceptions.NameResolutionError("api.twilio.com", None, OSError())  # type: ignore[arg-type]
    assert classify_exception(dns).outcome is SendOutcome.RETRYABLE
    assert classify_exception(urllib3.exceptions.ConnectTimeoutError()).outcome is SendOutcome.RETRYABLE
    assert classify_exception(urllib3.exceptions.SSLError()).outcome is SendOutcome.RETRYABLE
    read_timeout = urllib3.exceptions.ReadTimeoutError(None, "/", "timed out")  # type: ignore[arg-type]
    assert classify_exception(read_timeout).outcome is SendOutcome.UNKNOWN
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    assert classify_exception(reset).outcome is SendOutcome.UNKNOWN
    assert classify_exception(urllib3.exceptions.ProxyError("proxy", OSError())).outcome is SendOutcome.UNKNOWN


def test_programming_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        classify_exception(KeyError("oops"))


def test_status_callback_url_carries_the_outbox_id() -> None:
    sender = TwilioSmsSender("AC" + "0" * 32, "token", "MG" + "0" * 32, "https://rdv.example.fr/")
    assert sender.status_callback_url(42) == "https://rdv.example.fr/sms/status?outbox_id=42"
    assert sender.status_callback_url(None) == "https://rdv.example.fr/sms/status"


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError):
        TwilioSmsSender("AC" + "0" * 32, "token", "MG" + "0" * 32, "https://x", timeout=0)
