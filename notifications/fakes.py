"""Senders that do not talk to a provider: one for tests, one for the embedded default.

`FakeSmsSender` is what handler tests inject (`bootstrap(sms=FakeSmsSender())`)
and assert on. `OutboxLogSmsSender` is what a fresh install uses until Twilio
credentials are configured: every SMS is appended to a readable file, so a
coordinator can try the whole flow on one machine. That file is a delivery
channel standing in for phones (it holds numbers and bodies, like the outbox
table itself), not an application log.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from notifications.gsm import count_segments
from notifications.ports import Clock, OutgoingSms, ProviderMessage, SendOutcome, SendResult, SystemClock

__all__ = ["FakeSmsSender", "OutboxLogSmsSender"]


class FakeSmsSender:
    """Records every message and answers with scripted results (SENT by default).

    Scripted results are consumed in order (`script`); per-number results
    (`fail_for`) apply to every message to that number and win over the script,
    like a phone that stays unsubscribed.

    It also answers reconciliation lookups (`SentSmsLookup`) from what the
    "provider" holds: every SENT message, and every UNKNOWN one too (a read
    timeout: the provider got it, only the answer was lost) unless `lost=True`
    was scripted with it through `script_lost`.
    """

    def __init__(self, results: Iterable[SendResult] = ()) -> None:
        self.sent: list[OutgoingSms] = []
        self.results: list[SendResult] = []
        self.provider: dict[str, ProviderMessage] = {}
        self._script: deque[SendResult] = deque(results)
        self._lost: deque[bool] = deque(False for _ in self._script)
        self._per_number: dict[str, SendResult] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def script(self, *results: SendResult) -> None:
        """Queue the results of the next calls, in order."""
        self._script.extend(results)
        self._lost.extend(False for _ in results)

    def script_lost(self) -> None:
        """The next call ends UNKNOWN and the request never reached the provider."""
        self._script.append(SendResult.unknown("connection lost"))
        self._lost.append(True)

    def fail_for(self, number: str, result: SendResult) -> None:
        """Answer `result` to every message sent to `number` from now on."""
        if result.outcome is SendOutcome.SENT:
            raise ValueError("fail_for() takes a failure; script() successes instead")
        self._per_number[number] = result

    def send(self, message: OutgoingSms) -> SendResult:
        # The dispatcher's senders call it from several threads at once.
        with self._lock:
            self.sent.append(message)
            lost = False
            if message.to in self._per_number:
                result = self._per_number[message.to]
            elif self._script:
                result, lost = self._script.popleft(), self._lost.popleft()
            else:
                result = SendResult.sent(self._new_sid(), provider_status="accepted")
            self.results.append(result)
            if result.outcome is SendOutcome.SENT or (result.outcome is SendOutcome.UNKNOWN and not lost):
                sid = result.provider_sid or self._new_sid()
                self.provider[sid] = ProviderMessage(sid=sid, to=message.to, body=message.body, status="accepted")
            return result

    def _new_sid(self) -> str:
        self._counter += 1
        return f"SMfake{self._counter:026d}"

    def fetch(self, sid: str) -> ProviderMessage | None:
        return self.provider.get(sid)

    def find(self, *, to: str, body: str, created_after: datetime) -> list[ProviderMessage] | None:
        """Every held message to ``to`` with ``body``, newest first (the fake keeps no dates)."""
        return [m for m in reversed(self.provider.values()) if m.to == to and m.body == body]

    def bodies_to(self, number: str) -> list[str]:
        """Bodies of every message sent to `number`, oldest first (what the resident would read)."""
        return [m.body for m in self.sent if m.to == number]

    @property
    def last(self) -> OutgoingSms:
        """The most recent message; raises if nothing was sent (a test bug)."""
        if not self.sent:
            raise AssertionError("no SMS was sent")
        return self.sent[-1]


class OutboxLogSmsSender:
    """"Sends" by appending one readable line per SMS to `log_path`.

    Line format (tab-separated, newlines in the body written as "\\n"):
    `<UTC time>\\t<LOCAL-sid>\\tto=<number>\\toutbox=<id>\\tkey=<key>\\t<encoding>x<segments>\\t<body>`.
    """

    def __init__(self, log_path: Path | str, clock: Clock | None = None) -> None:
        self._path = Path(log_path)
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def send(self, message: OutgoingSms) -> SendResult:
        sid = f"LOCAL-{uuid.uuid4()}"
        info = count_segments(message.body)
        body = message.body.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        fields = [
            self._clock.now().isoformat(timespec="seconds"),
            sid,
            f"to={message.to}",
            f"outbox={message.outbox_id if message.outbox_id is not None else '-'}",
            f"key={message.idempotency_key}",
            f"{info.encoding}x{info.segments}",
            body,
        ]
        line = "\t".join(fields) + "\n"
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a", encoding="utf-8") as log:
                log.write(line)
        return SendResult.sent(sid, provider_status="delivered")
