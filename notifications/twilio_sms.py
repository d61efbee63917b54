"""`SmsSender` backed by Twilio's official REST client (the only module importing it).

The sender makes exactly one HTTP request per `send` and turns whatever
happens into a `SendResult`; the outbox dispatcher owns retries and backoff.
The official client builds every request and reads every answer (resources,
`TwilioRestException`); only its transport is ours (`_PooledHttpClient`, an
`HttpClient` as Twilio's "custom HTTP client" documentation describes), on
urllib3 with retries off, which the integration tests check by counting
requests on the fake server.

The API host is configurable (`api_base_url`) through `client.api.base_url`,
the public attribute every generated resource URL is built from
(`Domain.absolute_url`). This serves the fake Twilio server in tests and
Twilio's regional hosts (e.g. "https://api.dublin.ie1.twilio.com") in
production; the client's own edge/region rewriting, which it would otherwise
read from TWILIO_EDGE / TWILIO_REGION in the environment, is switched off so
that only the constructor's arguments count.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import requests
import requests.utils
import urllib3
import urllib3.exceptions
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifications.ports import OutgoingSms, ProviderMessage, SendResult

__all__ = ["TwilioSmsSender", "classify_exception"]

_logger = logging.getLogger(__name__)

_AUTH_ERROR_STATUSES = frozenset({401, 403})

#: How many of a number's most recent messages reconciliation reads back at most.
#: A resident gets a handful of SMS a week; a staff number more. Past this the
#: search is inconclusive and the message stays uncertain (never resent).
LOOKUP_LIMIT = 200


class _PooledHttpClient(HttpClient):
    """The official client's transport: urllib3 directly, one attempt per request.

    Why not the default `TwilioHttpClient` (requests): the dispatcher sends hundreds
    of SMS a second, and a profile showed requests' session machinery (merging
    settings, hooks, cookies, a scan of the whole environment for proxies at every
    request) costing 0.4 ms of CPU per message, 40 % of the whole client. What goes on
    the wire is the same: the official client's method, URL, form body, headers and
    Basic auth, over a pool of kept-alive connections.

    - One attempt: `retries=False` (no retry of any kind, no redirect followed), so the
      dispatcher alone decides what is retried. Errors are urllib3's own exceptions,
      which `classify_exception` maps.
    - `timeout` bounds the connection and each read, as requests did with one number.
    - `pool_size` connections per host are kept alive, one per concurrent sender.
    - Proxy (`HTTPS_PROXY`, `NO_PROXY`...) and CA bundle (`REQUESTS_CA_BUNDLE`,
      `CURL_CA_BUNDLE`, else certifi's, as requests) are read once, here: a changed
      proxy setting needs a restart, as any other setting does.
    - The last response headers are kept per thread: `TwilioRestException` carries
      none, and Retry-After on a 429 / 503 is read from them.
    """

    def __init__(self, timeout: float, api_base_url: str, pool_size: int = 10) -> None:
        super().__init__(_logger, False, timeout)
        self._last = threading.local()
        ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        proxy = requests.utils.get_environ_proxies(api_base_url).get(urlsplit(api_base_url).scheme)
        options: dict[str, Any] = {
            "maxsize": pool_size, "retries": False, "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            "ca_certs": ca_certs,
        }
        self._pool: urllib3.PoolManager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self._last.headers = None
        fields = dict(headers or {})
        if auth is not None:
            fields["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode("latin-1")).decode("ascii")
        body: bytes | None = None
        if data:
            if fields.get("Content-Type") in ("application/json", "application/scim+json"):
                body = json.dumps(data).encode("utf-8")
            else:
                body = urlencode(data, doseq=True).encode("utf-8")
                fields.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        options: dict[str, Any] = {}
        if timeout is not None:  # None would mean no timeout at all to urllib3: the pool's applies
            if timeout <= 0:
                raise ValueError(timeout)
            options["timeout"] = urllib3.Timeout(connect=timeout, read=timeout)
        response = self._pool.request(
            method.upper(), url, body=body, headers=fields, redirect=allow_redirects, retries=False, **options
        )
        self._last.headers = response.headers
        return Response(response.status, response.data.decode("utf-8"), response.headers)

    def last_headers(self) -> Mapping[str, str] | None:
        return getattr(self._last, "headers", None)


class TwilioSmsSender:
    """Sends through a Twilio Messaging Service, one attempt per call.

    `status_callback_base_url` is our public base URL (PUBLIC_BASE_URL): the
    status callback for an outbox row is `{base}/sms/status?outbox_id={id}`,
    which is how an UNKNOWN send (read timeout) is reconciled later.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str,
        status_callback_base_url: str,
        api_base_url: str = "https://api.twilio.com",
        timeout: float = 10,
        pool_size: int = 10,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._messaging_service_sid = messaging_service_sid
        self._status_callback_base_url = status_callback_base_url.rstrip("/")
        self._http_client = _PooledHttpClient(timeout, api_base_url.rstrip("/"), pool_size)
        self._client = Client(account_sid, auth_token, http_client=self._http_client)
        # Only our arguments choose the host (see the module docstring).
        self._client.edge = None
        self._client.region = None
        self._client.api.base_url = api_base_url.rstrip("/")

    def status_callback_url(self, outbox_id: int | None) -> str:
        """The URL Twilio will POST delivery updates to for this outbox row."""
        base = f"{self._status_callback_base_url}/sms/status"
        return base if outbox_id is None else f"{base}?outbox_id={outbox_id}"

    def send(self, message: OutgoingSms) -> SendResult:
        optional: dict[str, Any] = {}
        if message.validity_period_s is not None:
            optional["validity_period"] = message.validity_period_s
        try:
            created = self._client.messages.create(
                to=message.to,
                body=message.body,
                messaging_service_sid=self._messaging_service_sid,
                status_callback=self.status_callback_url(message.outbox_id),
                **optional,
            )
        except Exception as exc:  # noqa: BLE001 - classify_exception re-raises what it does not know
            result = classify_exception(exc, self._http_client.last_headers())
            _logger.warning(
                "SMS for outbox %s not sent: %s (code %s, HTTP %s)",
                message.outbox_id,
                result.outcome.value,
                result.error_code,
                result.http_status,
            )
            return result
        if not created.sid:
            # A 2xx without a sid means Twilio may or may not have the message.
            return SendResult.unknown("Twilio answered without a message sid")
        return SendResult.sent(created.sid, provider_status=_status_text(created.status))


    # -- reconciliation (notifications.ports.SentSmsLookup) -------------------

    def fetch(self, sid: str) -> ProviderMessage | None:
        """``GET /Messages/{sid}.json``; None on 404. Other errors propagate (retry later)."""
        try:
            instance = self._client.messages(sid).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise
        return _provider_message(instance)

    def find(self, *, to: str, body: str, created_after: datetime) -> list[ProviderMessage] | None:
        """Messages to ``to`` with this exact body created after ``created_after``.

        Reads the number's history newest first (``GET /Messages.json?To=...``)
        until a message older than ``created_after``. It does not filter on
        ``DateSent``: a message Twilio accepted but still holds in its queue has no
        send date yet, and missing it here would mean sending it twice.
        """
        matches: list[ProviderMessage] = []
        seen = 0
        for instance in self._client.messages.stream(to=to, page_size=50, limit=LOOKUP_LIMIT):
            seen += 1
            message = _provider_message(instance)
            if message.created_at is not None and message.created_at < created_after:
                return matches
            if message.body == body:
                matches.append(message)
        if seen >= LOOKUP_LIMIT:
            _logger.warning("reconciliation: history of a number longer than %d messages, inconclusive", LOOKUP_LIMIT)
            return None
        return matches


def _provider_message(instance: Any) -> ProviderMessage:
    created: datetime | None = instance.date_created
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return ProviderMessage(
        sid=instance.sid,
        to=instance.to,
        body=instance.body or "",
        status=_status_text(instance.status) or "unknown",
        created_at=created,
        error_code=instance.error_code,
    )


def _status_text(status: object) -> str | None:
    if status is None:
        return None
    return str(getattr(status, "value", status))


def classify_exception(
    exc: BaseException, headers: Mapping[str, str] | None = None
) -> SendResult:
    """Map an exception raised while creating a message to a `SendResult`.

    - 4xx from Twilio (except 401/403/429): the request is wrong for this
      message (unsubscribed, invalid or landline number...) -> PERMANENT_ERROR.
    - 429, 5xx, 401/403 (credentials or account: the message itself is fine
      and should go once the account is fixed) -> RETRYABLE.
    - The TCP connection was never established (refused, DNS, connect
      timeout, TLS handshake) -> RETRYABLE: nothing reached Twilio.
    - Anything after the request may have been sent (read timeout, connection
      dropped mid-response, unreadable 2xx body) -> UNKNOWN.

    Both urllib3's exceptions (our transport's) and requests' (the library's default
    transport, should it be used again) are understood.

    Exceptions that are not about the HTTP exchange (programming errors) are
    re-raised: swallowing them would turn bugs into retries.
    """
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        return _classify_http_error(exc.status, exc.code, _error_message(exc), headers)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return _classify_transport_error(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return SendResult.retryable("connect timeout")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return SendResult.unknown("read timeout: Twilio may have created the message")
    if isinstance(exc, requests.exceptions.SSLError):
        return SendResult.retryable("TLS error before the request was sent")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _never_connected(exc):
            return SendResult.retryable("connection failed before the request was sent")
        return SendResult.unknown("connection lost after the request was sent")
    if isinstance(exc, (requests.exceptions.RequestException, json.JSONDecodeError)):
        return SendResult.unknown(f"unreadable response: {type(exc).__name__}")
    raise exc


def _classify_transport_error(exc: urllib3.exceptions.HTTPError) -> SendResult:
    """urllib3's own exceptions, as `_PooledHttpClient` raises them (no retries, so unwrapped)."""
    # NewConnectionError (refused, DNS: NameResolutionError) is a ConnectTimeoutError too.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return SendResult.retryable("connection failed before the request was sent")
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return SendResult.retryable("connect timeout")
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return SendResult.unknown("read timeout: Twilio may have created the message")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return SendResult.retryable("TLS error before the request was sent")
    # ProtocolError (connection reset or closed mid-exchange), ProxyError, decoding errors...
    return SendResult.unknown(f"connection lost after the request was sent: {type(exc).__name__}")


def _classify_http_error(
    status: int, code: int | None, message: str, headers: Mapping[str, str] | None
) -> SendResult:
    if status == 429 or status >= 500 or status in _AUTH_ERROR_STATUSES:
        return SendResult.retryable(
            message,
            error_code=code,
            http_status=status,
            retry_after_s=_retry_after(headers),
        )
    if 400 <= status < 500:
        return SendResult.permanent_error(code, message, http_status=status)
    # 1xx/3xx surfacing as errors: Twilio's answer is not one we understand.
    return SendResult.unknown(f"unexpected HTTP {status}")


def _error_message(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return exc.detail or exc.title
    return exc.msg


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when urllib3 gave up before a connection existed (so nothing was sent)."""
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and DNS failures
    # (NameResolutionError is a subclass); ConnectTimeoutError its timeouts.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: Twilio does not use it; the dispatcher's backoff applies
    return seconds if seconds >= 0 else None
