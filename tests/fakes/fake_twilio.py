"""A fake Twilio REST server for tests: real HTTP on 127.0.0.1, scripted failures.

It speaks just enough of the 2010-04-01 Messages API for the official client:

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded, HTTP
  Basic auth with the account SID and auth token) -> 201 with a message JSON
  shaped like Twilio's (sid "SM" + 32 hex, status "accepted" with a Messaging
  Service or "queued" with a From, num_segments computed for GSM-7/UCS-2...).
- `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` -> 200 or 404.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages.json` -> a page of messages,
  newest first, filtered by `To`, `From`, `DateSent` / `DateSent<` / `DateSent>`
  (on the send date: a message still queued has none), paged with `PageSize`,
  `Page` and `PageToken` and Twilio's `next_page_uri` (what reconciliation reads).

Errors use Twilio's legacy error shape `{"code", "message", "more_info",
"status"}`, which the client turns into `TwilioRestException`.

Failures are scripted with `Fault`s: `fail_next(fault, times=n)` for the next n
POSTs, `fail_number(number, fault)` for every POST to one number. A slow fault
still creates the message after its delay, as real Twilio would when only the
client gave up: that is exactly the case that must never be blind-retried.
"Connection refused" needs no server: see `refused_base_url`.

The server is stdlib `ThreadingHTTPServer` on a random port. By default it speaks
HTTP/1.0 with one request per connection, so that stopping it never leaves a pooled
keep-alive connection behind (what the tests want). `keep_alive=True` makes it speak
HTTP/1.1 with persistent connections, as real Twilio does, so a benchmark measures
our dispatcher rather than TCP handshakes; `stop()` then closes the open connections.
`response_delay_s` makes every message creation answer that late (the message is
created first, as Twilio does while the client waits): real Twilio takes 100-300 ms,
which is what a dispatcher's concurrency is for.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import json
import re
import secrets
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from notifications.gsm import count_segments

__all__ = [
    "Fault",
    "FakeTwilioServer",
    "RecordedRequest",
    "blackhole_base_url",
    "refused_base_url",
]

API_VERSION = "2010-04-01"

_MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Messages\.json$")
_MESSAGE = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>AC[0-9a-fA-F]{{32}})/Messages/(?P<sid>SM[0-9a-f]{{32}})\.json$"
)

# Messages Twilio returns for the codes the tests use (wording from Twilio's docs).
_ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number: {to}",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}",
    21602: "Message body is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS.",
    21614: "'To' number is not a valid mobile number",
}


@dataclass(frozen=True)
class Fault:
    """How the fake answers a POST instead of creating a message."""

    status: int = 500
    code: int | None = None
    delay_s: float = 0.0
    retry_after_s: int | None = None
    drop_connection: bool = False
    create_anyway: bool = False
    """Create and store the message before answering (slow faults: Twilio got it)."""

    @classmethod
    def twilio_error(cls, code: int, status: int = 400) -> Fault:
        return cls(status=status, code=code)

    @classmethod
    def unsubscribed(cls) -> Fault:
        return cls.twilio_error(21610)

    @classmethod
    def invalid_number(cls) -> Fault:
        return cls.twilio_error(21211)

    @classmethod
    def not_mobile(cls) -> Fault:
        return cls.twilio_error(21614)

    @classmethod
    def rate_limited(cls, retry_after_s: int | None = None) -> Fault:
        return cls(status=429, code=20429, retry_after_s=retry_after_s)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status, code=20500)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Answer 201 after `delay_s`, having created the message (provokes a read timeout)."""
        return cls(status=201, delay_s=delay_s, create_anyway=True)

    @classmethod
    def dropped(cls) -> Fault:
        """Read the request, create the message, close the socket without answering."""
        return cls(status=0, drop_connection=True, create_anyway=True)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]]
    authorized: bool

    def field(self, name: str) -> str | None:
        """The single value of a form field, or None."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_faults: deque[Fault] = field(default_factory=deque)
    number_faults: dict[str, Fault] = field(default_factory=dict)
    connections: set[socket.socket] = field(default_factory=set)
    connections_opened: int = 0


class FakeTwilioServer:
    """A running fake of Twilio's Messages API; use as a context manager or start()/stop()."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        host: str = "127.0.0.1",
        *,
        keep_alive: bool = False,
        response_delay_s: float = 0.0,
    ) -> None:
        if response_delay_s < 0:
            raise ValueError("response_delay_s cannot be negative")
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.keep_alive = keep_alive
        self.response_delay_s = response_delay_s
        self._host = host
        self._state = _State()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeTwilioServer:
        if self._server is not None:
            raise RuntimeError("already started")
        handler = _make_handler(self)
        server = _Server((self._host, 0), handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="fake-twilio",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes slow handlers
        self._server.shutdown()
        self._server.server_close()
        with self._state.lock:  # persistent connections would outlive the server otherwise
            open_connections = list(self._state.connections)
            self._state.connections.clear()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as `api_base_url` to `TwilioSmsSender`."""
        if self._server is None:
            raise RuntimeError("not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ---------------------------------------------------------

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` message creations with `fault`."""
        with self._state.lock:
            self._state.next_faults.extend([fault] * times)

    def fail_number(self, number: str, fault: Fault) -> None:
        """Answer every message creation to `number` with `fault` (until `clear_faults`)."""
        with self._state.lock:
            self._state.number_faults[number] = fault

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.next_faults.clear()
            self._state.number_faults.clear()

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Move a stored message to `status`, as Twilio does when the carrier reports back."""
        with self._state.lock:
            message = self._state.messages[sid]
            message["status"] = status
            message["error_code"] = error_code
            message["date_updated"] = _rfc2822_now()
            if status in ("sent", "delivered", "undelivered", "read") and message["date_sent"] is None:
                message["date_sent"] = message["date_updated"]

    # -- inspection --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message created so far, oldest first (copies of the stored JSON)."""
        with self._state.lock:
            return [dict(m) for m in self._state.messages.values()]

    def messages_to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == number]

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far (one per request unless ``keep_alive``)."""
        with self._state.lock:
            return self._state.connections_opened

    # -- request handling (called from server threads) -----------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._state.lock:
            self._state.requests.append(request)

    def _take_fault(self, to: str | None) -> Fault | None:
        with self._state.lock:
            if to is not None and to in self._state.number_faults:
                return self._state.number_faults[to]
            if self._state.next_faults:
                return self._state.next_faults.popleft()
            return None

    def _create(self, form: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        sid = "SM" + secrets.token_hex(16)
        body = one("Body") or ""
        service = one("MessagingServiceSid")
        now = _rfc2822_now()
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        message: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": one("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(count_segments(body).segments),
            "price": None,
            "price_unit": "EUR",
            "sid": sid,
            "status": "accepted" if service and not one("From") else "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": one("To"),
            "uri": uri,
        }
        with self._state.lock:
            self._state.messages[sid] = message
        return dict(message)

    def _get(self, sid: str) -> dict[str, Any] | None:
        with self._state.lock:
            message = self._state.messages.get(sid)
            return dict(message) if message is not None else None

    def _list(self, query: dict[str, list[str]]) -> tuple[list[dict[str, Any]], int, int]:
        """Messages matching Twilio's list filters, newest first; with the page and its size."""

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        def sent_date(message: dict[str, Any]) -> datetime | None:
            raw = message.get("date_sent")
            return email.utils.parsedate_to_datetime(raw) if raw else None

        bounds = [(op, _parse_filter_date(one(name))) for op, name in (("=", "DateSent"), ("<", "DateSent<"), (">", "DateSent>"))]
        with self._state.lock:
            found = [dict(m) for m in reversed(self._state.messages.values())]
        found = [m for m in found if one("To") in (None, m["to"]) and one("From") in (None, m["from"])]
        for op, bound in bounds:
            if bound is None:
                continue
            found = [m for m in found if (sent := sent_date(m)) is not None and _date_matches(sent, op, bound)]
        size = max(1, min(1000, int(one("PageSize") or 50)))
        page = max(0, int(one("Page") or 0))
        return found, page, size

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except ValueError:
            return False
        user, _, password = decoded.partition(":")
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds` unless the server is stopping; True when the full delay elapsed."""
        return not self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    # The stdlib default backlog (5) drops SYNs under a burst of concurrent
    # clients, which shows up as 1-second TCP retransmits in tests.
    request_queue_size = 128
    daemon_threads = True


def _rfc2822_now() -> str:
    return email.utils.format_datetime(datetime.now(timezone.utc).replace(microsecond=0), usegmt=False)


def _parse_filter_date(raw: str | None) -> datetime | tuple[int, int, int] | None:
    """A DateSent filter: an ISO 8601 instant (what the official client sends) or a day."""
    if not raw:
        return None
    if "T" in raw:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    year, month, day = (int(part) for part in raw.split("-"))
    return (year, month, day)


def _date_matches(sent: datetime, op: str, bound: datetime | tuple[int, int, int]) -> bool:
    if isinstance(bound, tuple):
        day = (sent.year, sent.month, sent.day)
        return {"=": day == bound, "<": day <= bound, ">": day >= bound}[op]
    return {"=": sent == bound, "<": sent <= bound, ">": sent >= bound}[op]


def _error_body(status: int, code: int, to: str | None = None) -> dict[str, Any]:
    message = _ERROR_MESSAGES.get(code, "Error").format(to=to or "")
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _make_handler(fake: FakeTwilioServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if fake.keep_alive else "HTTP/1.0"
        server_version = "FakeTwilio/1.0"
        # Headers and body leave in two writes: on a persistent connection Nagle's algorithm
        # would hold the body until the client's delayed ACK (40 ms a response).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with fake._state.lock:
                fake._state.connections_opened += 1
                if fake.keep_alive:
                    fake._state.connections.add(self.connection)

        def finish(self) -> None:
            if fake.keep_alive:
                with fake._state.lock:
                    fake._state.connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Silence the default stderr access log (it would clutter test output)."""

        def _send_json(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            body = json.dumps(payload).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (read timeout): nothing to answer to

        def _read_request(self) -> RecordedRequest:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            form = parse_qs(raw, keep_blank_values=True)
            recorded = RecordedRequest(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query),
                headers={k: v for k, v in self.headers.items()},
                form=form,
                authorized=fake._authorized(self.headers.get("Authorization")),
            )
            fake._record(recorded)
            return recorded

        def _check_auth(self, request: RecordedRequest, account: str) -> bool:
            if request.authorized and account == fake.account_sid:
                return True
            self._send_json(401, _error_body(401, 20003))
            return False

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            request = self._read_request()
            match = _MESSAGES.match(request.path)
            if match is None:
                self._send_json(404, _error_body(404, 20404))
                return
            if not self._check_auth(request, match["account"]):
                return
            to = request.field("To")
            if not to:
                self._send_json(400, _error_body(400, 21604))
                return
            if not request.field("Body"):
                self._send_json(400, _error_body(400, 21602))
                return
            if not request.field("From") and not request.field("MessagingServiceSid"):
                self._send_json(400, _error_body(400, 21606))
                return
            fault = fake._take_fault(to)
            if fault is None:
                created = fake._create(request.form)
                if fake.response_delay_s and not fake._wait(fake.response_delay_s):
                    return  # server stopping
                self._send_json(201, created)
                return
            created = fake._create(request.form) if fault.create_anyway else None
            if fault.delay_s and not fake._wait(fault.delay_s):
                return  # server stopping
            if fault.drop_connection:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if created is not None:
                self._send_json(201, created)
                return
            headers = {}
            if fault.retry_after_s is not None:
                headers["Retry-After"] = str(fault.retry_after_s)
            self._send_json(
                fault.status, _error_body(fault.status, fault.code or fault.status, to), headers
            )

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            request = self._read_request()
            listing = _MESSAGES.match(request.path)
            if listing is not None:
                if self._check_auth(request, listing["account"]):
                    self._send_page(request)
                return
            match = _MESSAGE.match(request.path)
            if match is None:
                self._send_json(404, _error_body(404, 20404))
                return
            if not self._check_auth(request, match["account"]):
                return
            message = fake._get(match["sid"])
            if message is None:
                self._send_json(404, _error_body(404, 20404))
                return
            self._send_json(200, message)

        def _send_page(self, request: RecordedRequest) -> None:
            found, page, size = fake._list(request.query)
            items = found[page * size : (page + 1) * size]
            filters = {k: v[0] for k, v in request.query.items() if k not in ("Page", "PageSize", "PageToken")}

            def uri(number: int) -> str:
                params = {**filters, "PageSize": size, "Page": number}
                if number:
                    params["PageToken"] = f"PASM{secrets.token_hex(16)}"
                return f"{request.path}?{urlencode(params)}"

            has_next = (page + 1) * size < len(found)
            self._send_json(200, {
                "end": page * size + max(0, len(items) - 1),
                "first_page_uri": uri(0),
                "messages": items,
                "next_page_uri": uri(page + 1) if has_next else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page else None,
                "start": page * size,
                "uri": f"{request.path}?{urlencode({**filters, 'PageSize': size, 'Page': page})}",
            })

    return Handler


def refused_base_url() -> str:
    """A base URL on 127.0.0.1 whose port nobody listens on: connecting is refused.

    The port was free a moment ago; another process grabbing it in between is
    possible in theory and not a concern on a test machine.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def blackhole_base_url() -> Iterator[str]:
    """A base URL whose TCP handshake never completes, to provoke a *connect* timeout.

    A listening socket with a backlog of 0 whose queue is filled by two idle
    connections and never accepted: Linux then drops further SYNs, so a new
    client waits until its connect timeout (Linux-specific behaviour).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
