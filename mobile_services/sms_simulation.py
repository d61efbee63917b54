"""A resident's phone played by hand or by a script, through the real SMS dialogue.

`sms simulate` and the phrasing corpus (tests/data/sms_corpus) both need what a resident
would see after each SMS: the dialogue's direct reply (TwiML in production) plus what the
booking service queued in the outbox for that number at that moment (the confirmation and
the cancellation acknowledgement go that way). Reminders, queued for later, are reported
apart so a simulation never pretends they arrived at once.

Each message goes through the message bus exactly as a webhook would hand it over (the
signature check aside), so bookings, waiting-list entries and opt-outs are real rows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from mobile_services.conversation import SmsReply
from mobile_services.domain.commands import ReceiveSms
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import Clock

__all__ = ["Exchange", "Queued", "SimulatedPhone"]


@dataclass(frozen=True)
class Queued:
    """An SMS the outbox holds for the resident, due now or later (a reminder)."""

    kind: str
    body: str
    due_at: datetime


@dataclass(frozen=True)
class Exchange:
    """One SMS sent and everything it produced for the sender."""

    sent: str
    replies: tuple[str, ...]
    """The direct answer (what the webhook returns as TwiML)."""
    queued_now: tuple[Queued, ...] = ()
    """Outbox SMS due at once (a booking confirmation, a cancellation acknowledgement)."""
    queued_later: tuple[Queued, ...] = ()
    """Outbox SMS due later (reminders)."""

    @property
    def received(self) -> tuple[str, ...]:
        """Everything the resident reads right after sending, in order."""
        return self.replies + tuple(q.body for q in self.queued_now)


@dataclass
class SimulatedPhone:
    """The phone of one resident writing to one service number."""

    bus: MessageBus
    engine: Engine
    clock: Clock
    phone: str
    to_number: str = ""
    _seen_outbox_id: int = field(default=-1, init=False)

    def send(self, body: str) -> Exchange:
        if self._seen_outbox_id < 0:
            self._seen_outbox_id = self._last_outbox_id()
        reply: SmsReply = self.bus.handle(
            ReceiveSms(
                message_sid=f"SMsim{secrets.token_hex(14)}",
                from_number=self.phone,
                to_number=self.to_number,
                body=body,
            )
        )
        now = self.clock.now()
        queued = self._new_outbox_messages()
        return Exchange(
            sent=body,
            replies=tuple(reply.messages),
            queued_now=tuple(q for q in queued if q.due_at <= now),
            queued_later=tuple(q for q in queued if q.due_at > now),
        )

    def _last_outbox_id(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.coalesce(func.max(t.Message.id), 0))).one())

    def _new_outbox_messages(self) -> list[Queued]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(t.Message)
                .where(t.Message.recipient == self.phone, col(t.Message.id) > self._seen_outbox_id)
                .order_by(col(t.Message.id))
            ).all()
        if rows:
            self._seen_outbox_id = max(int(r.id) for r in rows if r.id is not None)
        return [Queued(kind=r.kind, body=r.body, due_at=r.due_at) for r in rows]
