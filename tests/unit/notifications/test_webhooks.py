"""Twilio webhook signatures, public URL rebuilding, payload parsing, status ordering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from notifications.webhooks import (
    InboundSms,
    WebhookPayloadError,
    is_final,
    is_forward,
    parse_inbound,
    parse_status_callback,
    public_url,
    verify_signature,
)

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_BASE = "https://rdv.example.fr"

INBOUND_FORM = {
    "ToCountry": "FR",
    "SmsMessageSid": "SM0123456789abcdef0123456789abcdef",
    "NumMedia": "0",
    "SmsSid": "SM0123456789abcdef0123456789abcdef",
    "SmsStatus": "received",
    "Body": "Arrêt",
    "FromCountry": "FR",
    "To": "+33939000000",
    "MessagingServiceSid": "MG0123456789abcdef0123456789abcdef",
    "NumSegments": "1",
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+33612345678",
    "ApiVersion": "2010-04-01",
}


def hand_signature(token: str, url: str, params: dict[str, list[str]]) -> str:
    """Twilio's documented algorithm, written out: HMAC-SHA1 over the URL followed by
    every parameter name and value, names sorted, then base64."""
    payload = url + "".join(
        name + value for name in sorted(params) for value in sorted(params[name])
    )
    digest = hmac.new(token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_twilio_published_example_vector_is_accepted() -> None:
    # The example from Twilio's webhook security docs (also in twilio-php/csharp tests).
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert verify_signature("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert hand_signature("12345", url, {k: [v] for k, v in params.items()}) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


def test_a_hand_computed_signature_with_accents_and_repeated_keys_is_accepted() -> None:
    url = f"{PUBLIC_BASE}/sms/status?outbox_id=42"
    params = {"Body": ["Arrêt"], "Digits": ["5678", "1234"], "From": ["+33612345678"]}
    signature = hand_signature(AUTH_TOKEN, url, params)
    assert verify_signature(AUTH_TOKEN, url, params, signature)
    # The same request with one repeated value dropped is a different request.
    assert not verify_signature(AUTH_TOKEN, url, {**params, "Digits": ["5678"]}, signature)


def test_an_inbound_webhook_signed_as_twilio_does_is_accepted() -> None:
    url = public_url(PUBLIC_BASE, "/sms/inbound")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, INBOUND_FORM)
    assert verify_signature(AUTH_TOKEN, url, INBOUND_FORM, signature)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url, form, token: (url, {**form, "Body": "OUI"}, token),
        lambda url, form, token: (url, {**form, "Extra": "1"}, token),
        lambda url, form, token: (url + "?outbox_id=1", form, token),
        lambda url, form, token: ("http://10.0.0.5:8000/sms/inbound", form, token),
        lambda url, form, token: (url, form, "another-token"),
    ],
    ids=["body", "added-param", "query", "internal-url", "token"],
)
def test_any_change_breaks_the_signature(tamper) -> None:  # type: ignore[no-untyped-def]
    url = public_url(PUBLIC_BASE, "/sms/inbound")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, INBOUND_FORM)
    other_url, other_form, other_token = tamper(url, INBOUND_FORM, AUTH_TOKEN)
    assert not verify_signature(other_token, other_url, other_form, signature)


def test_missing_or_empty_signatures_and_tokens_are_refused() -> None:
    url = public_url(PUBLIC_BASE, "/sms/inbound")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, INBOUND_FORM)
    assert not verify_signature(AUTH_TOKEN, url, INBOUND_FORM, None)
    assert not verify_signature(AUTH_TOKEN, url, INBOUND_FORM, "")
    assert not verify_signature("", url, INBOUND_FORM, signature)


def test_a_signature_made_with_the_default_port_is_accepted() -> None:
    # Twilio sometimes signs https://host:443/...; the validator tries both forms.
    url = public_url(PUBLIC_BASE, "/sms/inbound")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://rdv.example.fr:443/sms/inbound", INBOUND_FORM
    )
    assert verify_signature(AUTH_TOKEN, url, INBOUND_FORM, signature)


@pytest.mark.parametrize(
    ("base", "path", "query", "expected"),
    [
        ("https://rdv.example.fr", "/sms/inbound", "", "https://rdv.example.fr/sms/inbound"),
        ("https://rdv.example.fr/", "/sms/status", "outbox_id=42", "https://rdv.example.fr/sms/status?outbox_id=42"),
        # The proxy strips "/bus"; the app sees "/sms/status" only.
        ("https://example.fr/bus", "/sms/status", b"outbox_id=7&x=%2B33", "https://example.fr/bus/sms/status?outbox_id=7&x=%2B33"),
        ("http://localhost:8000", "sms/inbound", "", "http://localhost:8000/sms/inbound"),
    ],
)
def test_public_url_rebuilds_what_twilio_called(base: str, path: str, query: str | bytes, expected: str) -> None:
    assert public_url(base, path, query) == expected


def test_public_url_needs_an_absolute_base() -> None:
    with pytest.raises(ValueError):
        public_url("rdv.example.fr", "/sms/inbound")


def test_a_status_callback_signed_on_the_public_url_verifies_behind_a_proxy() -> None:
    # Twilio called https://rdv.example.fr/sms/status?outbox_id=42; the app saw
    # http://10.0.0.5:8000/sms/status?outbox_id=42.
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "b" * 32}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://rdv.example.fr/sms/status?outbox_id=42", form
    )
    rebuilt = public_url(PUBLIC_BASE, "/sms/status", "outbox_id=42")
    assert verify_signature(AUTH_TOKEN, rebuilt, form, signature)
    assert not verify_signature(AUTH_TOKEN, "http://10.0.0.5:8000/sms/status?outbox_id=42", form, signature)


def test_parse_inbound_reads_twilios_fields() -> None:
    inbound = parse_inbound(INBOUND_FORM)
    assert inbound == InboundSms(
        message_sid="SM0123456789abcdef0123456789abcdef",
        from_number="+33612345678",
        to_number="+33939000000",
        body="Arrêt",
        num_media=0,
        account_sid="AC0123456789abcdef0123456789abcdef",
        messaging_service_sid="MG0123456789abcdef0123456789abcdef",
        opt_out_type=None,
    )


def test_parse_inbound_accepts_list_values_and_opt_out_type() -> None:
    form = {k: [v] for k, v in INBOUND_FORM.items()} | {"OptOutType": ["STOP"], "NumMedia": ["2"]}
    inbound = parse_inbound(form)
    assert inbound.opt_out_type == "STOP"
    assert inbound.num_media == 2


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_parse_inbound_rejects_a_payload_without_essentials(missing: str) -> None:
    form = {k: v for k, v in INBOUND_FORM.items() if k != missing}
    with pytest.raises(WebhookPayloadError, match=missing):
        parse_inbound(form)


def test_parse_inbound_rejects_garbage_numbers() -> None:
    with pytest.raises(WebhookPayloadError, match="NumMedia"):
        parse_inbound({**INBOUND_FORM, "NumMedia": "two"})


def test_parse_status_callback_reads_outbox_id_from_the_query() -> None:
    status = parse_status_callback(
        {"MessageSid": "SM1", "MessageStatus": "Undelivered", "ErrorCode": "30006", "To": "+33612345678"},
        "outbox_id=42",
    )
    assert status.message_sid == "SM1"
    assert status.message_status == "undelivered"
    assert status.error_code == 30006
    assert status.outbox_id == 42
    assert status.recipient_unreachable


def test_parse_status_callback_without_error_or_outbox() -> None:
    status = parse_status_callback({"MessageSid": "SM1", "MessageStatus": "sent", "ErrorCode": ""})
    assert status.error_code is None and status.outbox_id is None
    assert not status.recipient_unreachable
    with pytest.raises(WebhookPayloadError, match="outbox_id"):
        parse_status_callback({"MessageSid": "SM1", "MessageStatus": "sent"}, {"outbox_id": "x"})
    with pytest.raises(WebhookPayloadError, match="MessageStatus"):
        parse_status_callback({"MessageSid": "SM1"})


ORDER = ["queued", "sending", "sent", "delivered"]
FINALS = ["delivered", "undelivered", "failed", "canceled"]
KNOWN = ["accepted", "scheduled", "queued", "sending", "sent", *FINALS[1:], "delivered", "read"]


@pytest.mark.parametrize(("old", "new"), list(itertools.combinations(ORDER, 2)))
def test_statuses_move_forward_along_the_lifecycle(old: str, new: str) -> None:
    assert is_forward(old, new)
    assert not is_forward(new, old)


@pytest.mark.parametrize(("old", "new"), list(itertools.permutations(FINALS, 2)))
def test_a_final_status_is_never_replaced_by_another(old: str, new: str) -> None:
    assert not is_forward(old, new)


def test_special_cases_of_the_status_order() -> None:
    assert is_forward(None, "sent")  # after an UNKNOWN send, any news is progress
    assert is_forward("accepted", "queued")
    assert is_forward("sent", "failed") and is_forward("sent", "undelivered")
    assert is_forward("delivered", "read")
    assert not is_forward("failed", "read")
    assert not is_forward("sent", "sent")
    assert not is_forward("sent", "teleported")  # unknown statuses are never applied
    assert is_forward("SENT", "Delivered")
    assert is_final("undelivered") and not is_final("sent") and not is_final("whatever")


@given(st.sampled_from(KNOWN), st.sampled_from(KNOWN))
def test_is_forward_is_antisymmetric(old: str, new: str) -> None:
    assert not (is_forward(old, new) and is_forward(new, old))


@given(st.lists(st.sampled_from(KNOWN), min_size=1, max_size=12))
def test_applying_callbacks_in_any_order_ends_on_a_status_no_later_one_can_replace(
    callbacks: list[str],
) -> None:
    current: str | None = None
    for status in callbacks:
        if is_forward(current, status):
            current = status
    assert current is not None
    assert not any(is_forward(current, status) for status in callbacks)
