"""What Twilio POSTs to us: signature checks and parsing of inbound SMS and status callbacks.

Framework-free on purpose (plain mappings in, dataclasses out) so the web
layer stays thin and these rules are tested without HTTP.

Signatures: Twilio signs the exact URL it was configured with (scheme, host,
path and query) plus the sorted POST parameters. Behind a reverse proxy the
app sees another scheme and host, so the URL must be rebuilt from
PUBLIC_BASE_URL and the raw path and query of the request (`public_url`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

__all__ = [
    "DELIVERY_ERROR_CODES_RECIPIENT",
    "InboundSms",
    "StatusCallback",
    "WebhookPayloadError",
    "is_final",
    "is_forward",
    "parse_inbound",
    "parse_status_callback",
    "public_url",
    "verify_signature",
]

# Twilio message statuses, ranked: a callback may only move a message forward.
# Callbacks can arrive out of order (a late "sent" after "delivered"); the rank
# is what makes applying them idempotent and order-independent.
_STATUS_RANK: Mapping[str, int] = MappingProxyType({
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,  # only after delivered (WhatsApp/RCS); kept for completeness
})
_FINAL_RANK = 4

# Delivery error codes (status callback ErrorCode) that mean the number is the
# problem; others (30003 handset off, 30008 unknown...) are worth trying again later.
DELIVERY_ERROR_CODES_RECIPIENT: frozenset[int] = frozenset(
    {
        21610,  # unsubscribed recipient
        30004,  # message blocked (by the recipient or their carrier)
        30005,  # unknown destination handset (number does not exist)
        30006,  # landline or unreachable carrier
    }
)


#: Outbox ids are 32-bit serials: anything outside is not one of ours (and would make
#: the database raise instead of answering "no such row").
MAX_OUTBOX_ID = 2_147_483_647


class WebhookPayloadError(ValueError):
    """A webhook body lacks what Twilio always sends: answer 400, do not process it."""


def verify_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | Mapping[str, Sequence[str]],
    signature: str | None,
) -> bool:
    """True when `signature` (X-Twilio-Signature) matches `url` and `params`.

    `url` is the public URL Twilio called (see `public_url`); `params` the
    form fields, single values or lists of values (repeated keys).
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, _MultiValues(params), signature))


class _MultiValues:
    """Adapter giving RequestValidator the `getlist` it uses for repeated form keys."""

    def __init__(self, params: Mapping[str, str] | Mapping[str, Sequence[str]]) -> None:
        self._params = params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def getlist(self, key: str) -> list[str]:
        value = self._params[key]
        return [value] if isinstance(value, str) else list(value)


def public_url(public_base_url: str, path: str, query: str | bytes = "") -> str:
    """The URL Twilio signed, rebuilt from our public base URL and the request's raw path/query.

    `path` is the path as the app saw it (without any prefix the proxy
    stripped: put that prefix in `public_base_url`); `query` the raw query
    string, unparsed, because re-encoding it would change the signed bytes.
    """
    parts = urlsplit(public_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("public_base_url must be an absolute http(s) URL")
    if isinstance(query, bytes):
        query = query.decode("latin-1")  # raw bytes of the request line, as ASGI gives them
    url = public_base_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


@dataclass(frozen=True, kw_only=True)
class InboundSms:
    """An SMS a resident sent us (Twilio's incoming-message webhook)."""

    message_sid: str
    from_number: str
    to_number: str
    body: str
    num_media: int = 0
    account_sid: str | None = None
    messaging_service_sid: str | None = None
    opt_out_type: str | None = None
    """"STOP", "START" or "HELP" when Twilio's Advanced Opt-Out recognised a keyword."""


@dataclass(frozen=True, kw_only=True)
class StatusCallback:
    """A delivery update for a message we sent."""

    message_sid: str
    message_status: str
    error_code: int | None = None
    outbox_id: int | None = None
    account_sid: str | None = None
    to_number: str | None = None

    @property
    def recipient_unreachable(self) -> bool:
        """True when the failure says the number itself cannot receive our SMS."""
        return self.error_code in DELIVERY_ERROR_CODES_RECIPIENT


def _single(params: Mapping[str, str] | Mapping[str, Sequence[str]], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value[0] if value else None


def _required(params: Mapping[str, str] | Mapping[str, Sequence[str]], key: str) -> str:
    value = _single(params, key)
    if not value:
        raise WebhookPayloadError(f"missing {key}")
    return value


def _optional_int(raw: str | None, key: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise WebhookPayloadError(f"{key} is not a number") from exc


def parse_inbound(params: Mapping[str, str] | Mapping[str, Sequence[str]]) -> InboundSms:
    """Parse the form of an incoming-message webhook."""
    return InboundSms(
        message_sid=_required(params, "MessageSid"),
        from_number=_required(params, "From"),
        to_number=_required(params, "To"),
        body=_single(params, "Body") or "",
        num_media=_optional_int(_single(params, "NumMedia"), "NumMedia") or 0,
        account_sid=_single(params, "AccountSid"),
        messaging_service_sid=_single(params, "MessagingServiceSid"),
        opt_out_type=(_single(params, "OptOutType") or None),
    )


def parse_status_callback(
    params: Mapping[str, str] | Mapping[str, Sequence[str]],
    query: str | Mapping[str, str] | None = None,
) -> StatusCallback:
    """Parse a status callback; `query` is the callback URL's query (it carries outbox_id)."""
    if isinstance(query, str):
        parsed = parse_qs(query)
        query = {key: values[0] for key, values in parsed.items()}
    outbox_raw = (query or {}).get("outbox_id")
    outbox_id = _optional_int(outbox_raw, "outbox_id")
    if outbox_id is not None and not 1 <= outbox_id <= MAX_OUTBOX_ID:
        raise WebhookPayloadError("outbox_id out of range")
    status = _required(params, "MessageStatus").strip().lower()
    return StatusCallback(
        message_sid=_required(params, "MessageSid"),
        message_status=status,
        error_code=_optional_int(_single(params, "ErrorCode"), "ErrorCode"),
        outbox_id=outbox_id,
        account_sid=_single(params, "AccountSid"),
        to_number=_single(params, "To"),
    )


def is_forward(old: str | None, new: str) -> bool:
    """True when moving a message from status `old` to `new` is progress.

    `old` is None when we have no provider status yet (e.g. after an UNKNOWN
    send): any known status is then progress. Unknown new statuses are never
    applied; final statuses (delivered, undelivered, failed, canceled) are
    never replaced by another final one, only by "read".
    """
    new_rank = _STATUS_RANK.get(new.lower())
    if new_rank is None:
        return False
    if old is None:
        return True
    old_rank = _STATUS_RANK.get(old.lower())
    if old_rank is None:
        return True
    if old_rank == _FINAL_RANK and new_rank == _FINAL_RANK:
        return False
    if new.lower() == "read" and old.lower() != "delivered" and old_rank == _FINAL_RANK:
        return False
    return new_rank > old_rank


def is_final(status: str) -> bool:
    """True for statuses after which Twilio sends nothing more about delivery."""
    return _STATUS_RANK.get(status.lower(), -1) >= _FINAL_RANK
