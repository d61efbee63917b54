"""The SMS dialogue with residents, as a state machine persisted per phone number.

A resident with a basic phone books by answering short questions; each answer
is one inbound SMS, handled in one transaction: the inbound message is stored
(once: Twilio redeliveries hit the unique MessageSid and get the stored reply),
the dialogue moves on, the booking service does its work, and the reply text is
returned for the webhook to answer in TwiML.

States (``Conversation.state``) and what moves them::

    idle --RDV / BONJOUR / anything unknown--> awaiting_commune   (or straight on
         when the resident's commune is known from a previous booking)
    awaiting_commune --name / postcode--> choosing_commune  (several matches)
                                     \\--> choosing_service  (several services at the next stops)
                                      \\-> choosing_slot     (up to 3 free slots)
                                       \\> idle             (no stop nearby: waiting list)
    choosing_commune --number--> choosing_service | choosing_slot | idle
    choosing_service --number, 0 = no particular service--> choosing_slot | idle
    choosing_slot --number--> confirming
    confirming --OUI--> idle (booked: the booking service queues the confirmation)
               --NON--> choosing_slot (fresh offer)
    (a published plan cancels a booked stop and a seat is held nearby:
     await_hold_answer puts the dialogue in confirming on that seat; NON frees it)
    idle --ANNULER with several bookings--> choosing_cancellation --number--> idle
    idle --"je ne pourrai pas venir" (one booking)--> confirming_cancellation --OUI--> idle (cancelled)
                                                                             \\-NON--> idle (kept, listed)

Commands valid in every state: AIDE, MES RDV, ANNULER [n], RDV, STOP/ARRET, START, and
the questions « c'est qui ? », « c'est ou ? », « quels papiers ? » (answered without
leaving the state). What a message asks is read by the pure `sms_intents` module, anywhere
in the sentence and with its priorities (a stop request always wins). A first reply to an
unknown number says who writes; a request for a booking from someone who has one hears of
it first. Bookings, cancellations, the waiting list and opt-outs go through the bus's
commands and handlers, the web's own path, inside this SMS's transaction (`_command`).
Residents rarely send bare keywords: whole sentences are read too (`sms_phrasing`:
« oui je veux bien merci », « le deuxieme », « je ne pourrai pas venir »; `slot_wishes`:
« jeudi a 10h »), measured on a phrasing corpus (`python -m benchmarks.sms_phrasing`).
A dialogue left silent for ``settings.conversation_timeout_minutes`` expires:
the next message is told so (conversation_expired) and then handled afresh.

Keyword rules forced by Twilio: CANCEL, END, QUIT, STOPALL, UNSUBSCRIBE are
Twilio opt-out words and YES, UNSTOP opt-in words; Twilio acts on them before
us, so we only mirror them and never give them another meaning (OUI confirms,
ANNULER cancels). Twilio answers STOP itself and blocks our reply, so STOP gets
an empty reply; ARRET, which Twilio does not know, and a stop request in a sentence get
``opt_out_ack``, once. An opted-out number gets no reply at all until START; YES, START and
UNSTOP from a number that never opted out leave the dialogue untouched.

Everything residents read comes from the French templates in
``notifications/templates/sms``; logs are English and carry no phone number
and no message body.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config import Settings
from mobile_services import sms_phrasing as phrasing
from mobile_services.commune_matching import Matches, candidates_from_rows, match_communes, normalise
from mobile_services.domain.exceptions import BookingRefused, InvalidInput, NotFound
from mobile_services.domain.commands import BookSlot, CancelBooking, JoinWaitlist, ReceiveSms, SetOptOut
from mobile_services.domain.messages import Event
from mobile_services.domain.phones import territory_number
from mobile_services.service_layer import booking, holds, reference_data
from mobile_services.service_layer.unit_of_work import JoinedUnitOfWork, UnitOfWork
from mobile_services.slot_wishes import fitting, names_day_or_time, names_weekday_exactly, nearest, read_wish, wished_offer
from mobile_services.sms_intents import Intent, IntentKind, parse_intent
from mobile_services.storage import tables as t
from notifications.gsm import count_segments
from notifications.ports import Clock, FixedClock
from notifications.rendering import SmsRenderer, reply_with_number

__all__ = [
    "Intent",
    "IntentKind",
    "ReceiveSms",
    "SmsReply",
    "State",
    "await_hold_answer",
    "decode_reply",
    "encode_reply",
    "handle_incoming_sms",
    "parse_intent",
]

logger = logging.getLogger(__name__)

#: How many services the service question lists at most (plus "Autre").
MAX_SERVICES_LISTED = 8
#: Label of the "no particular service" entry closing the service list; 0 works too.
OTHER_SERVICE_LABEL = "Autre demande"
#: Printed in confirm_question when the resident chose no particular service:
#: "Confirmer le RDV d'accompagnement du mar. 8 déc. à 9h30 à Crocq ?"
GENERIC_SERVICE_LABEL = "d'accompagnement"
#: Why a booking made by SMS was cancelled, in the journal.
CANCEL_REASON = "resident_sms"
#: Free slots searched for a day or time the resident asks for ("plutot mardi").
WISHED_SLOTS_SEARCHED = 60
#: Bookings a choice list shows (the my_bookings and cancel_choice templates hold two).
BOOKINGS_LISTED = 2


class State(StrEnum):
    IDLE = "idle"
    AWAITING_COMMUNE = "awaiting_commune"
    CHOOSING_COMMUNE = "choosing_commune"
    CHOOSING_SERVICE = "choosing_service"
    CHOOSING_SLOT = "choosing_slot"
    CONFIRMING = "confirming"
    CHOOSING_CANCELLATION = "choosing_cancellation"
    CONFIRMING_CANCELLATION = "confirming_cancellation"


# --------------------------------------------------------------------------- the bus command


@dataclass(frozen=True)
class SmsReply:
    """What to answer: zero, one or two SMS (two only after an expiry notice)."""

    messages: tuple[str, ...] = ()
    redelivery: bool = False
    """True when the MessageSid was already handled: ``messages`` is the stored reply."""


def encode_reply(messages: Sequence[str]) -> str:
    """How a reply is kept in ``InboundMessage.reply`` (a JSON list: it may hold two SMS)."""
    return json.dumps(list(messages), ensure_ascii=False)


def decode_reply(stored: str | None) -> tuple[str, ...]:
    if not stored:
        return ()
    try:
        value = json.loads(stored)
    except ValueError:
        return (stored,)
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


# --------------------------------------------------------------------------- the handler


def handle_incoming_sms(command: ReceiveSms, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> SmsReply:
    """Store the SMS once, move the dialogue on, return the reply (one transaction).

    A redelivery of a MessageSid already answered, a concurrent delivery of the same one,
    or the first two messages of a new number arriving together make the transaction fail
    on a unique index; it is retried once, and then finds the stored reply or the existing
    conversation. The first attempt does not look for a stored reply: Twilio redelivers
    rarely, and the unique index alone keeps an SMS from being answered twice (the failed
    attempt's dialogue step rolls back with it), so every SMS saves a query.
    """
    for attempt in (1, 2):
        try:
            return _handle_once(command, uow=uow, now=clock.now(), settings=settings, look_for_reply=attempt == 2)
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("sms %s: delivered twice or concurrent insert, retrying once", command.message_sid)
    raise AssertionError("unreachable")


#: The hot statements of every SMS, built once (building a statement costs as much as running it).
_STORED_REPLY = select(t.InboundMessage.reply).where(t.InboundMessage.message_sid == bindparam("sid"))
_STORE_INBOUND = insert(t.InboundMessage.__table__)  # type: ignore[attr-defined]  # Core: no ORM bookkeeping
_CONVERSATION_LOCKED = select(t.Conversation).where(t.Conversation.phone == bindparam("phone")).with_for_update()
_CONVERSATION_TABLE = t.Conversation.__table__  # type: ignore[attr-defined]
_SAVE_CONVERSATION = update(_CONVERSATION_TABLE).where(_CONVERSATION_TABLE.c.id == bindparam("conversation_id"))


def _handle_once(
    command: ReceiveSms, *, uow: UnitOfWork, now: datetime, settings: Settings, look_for_reply: bool
) -> SmsReply:
    with uow:
        session = uow.session
        if look_for_reply:
            stored = session.execute(_STORED_REPLY, {"sid": command.message_sid}).first()
            if stored is not None:
                logger.info("sms %s: redelivery, answering the stored reply", command.message_sid)
                return SmsReply(decode_reply(stored.reply), redelivery=True)
        try:
            phone: str | None = booking.normalise_phone(command.from_number)
        except InvalidInput:
            phone = None
        body = _clean(command.body)
        if phone is None:
            logger.info("sms %s: sender is not a valid phone number, no reply", command.message_sid)
            messages: tuple[str, ...] = ()
        else:
            dialogue = Dialogue(session, phone=phone, now=now, settings=settings, to_number=command.to_number)
            messages = dialogue.respond(body, opt_out_type=command.opt_out_type)
            for event in dialogue.events:
                uow.emit(event)
            logger.info(
                "sms %s: read as %s, %s -> %s, %d message(s) in reply",
                command.message_sid, dialogue.intent.kind if dialogue.intent else "-", dialogue.state_before,
                dialogue.state_after, len(messages),
            )  # fmt: skip
        # Stored with its reply, last: a redelivery or a concurrent delivery of the same
        # MessageSid fails here on the unique index, rolls back the whole dialogue step, and
        # is retried to find this row (nothing of the step is kept or told twice).
        session.execute(
            _STORE_INBOUND,
            {
                "message_sid": command.message_sid,
                "from_phone": phone,
                "to_phone": command.to_number[:20],
                "body": body,
                "received_at": now,
                "reply": encode_reply(messages),
            },
        )
        uow.commit()
        return SmsReply(messages)


def _clean(body: str) -> str:
    """Body as we store and read it: NUL (refused by PostgreSQL text) and other C0 controls out."""
    return "".join(ch for ch in body if ch in "\n\t" or ord(ch) >= 32)


# --------------------------------------------------------------------------- the dialogue


@dataclass
class _Outcome:
    """What one step produces: reply messages and the state to store."""

    messages: list[str] = field(default_factory=list)
    state: State = State.IDLE
    context: dict[str, Any] = field(default_factory=dict)


class Dialogue:
    """One step of the conversation with one phone number, inside the caller's transaction."""

    def __init__(self, session: Session, *, phone: str, now: datetime, settings: Settings, to_number: str = "") -> None:
        self.session = session
        self.phone = phone
        self.now = now
        self.settings = settings
        self.to_number = to_number
        self.renderer: SmsRenderer = booking.renderer(settings.timezone)
        self.events: list[Event] = []
        self.state_before: State = State.IDLE
        self.state_after: State = State.IDLE
        self.intent: Intent | None = None
        """What the last message was read as (logged, and checked by the webhook corpus)."""
        self._context_before: dict[str, Any] = {}

    # ------------------------------------------------------------------ entry point

    def respond(self, body: str, *, opt_out_type: str | None = None) -> tuple[str, ...]:
        intent = parse_intent(body)
        self.intent = intent
        resident = booking.find_resident(self.session, self.phone)
        conversation = self._conversation_row()
        first_contact = resident is None and conversation is None
        conversation = conversation or self._new_conversation()
        self.state_before = _state(conversation.state)
        self.state_after = self.state_before
        opted_out = resident is not None and resident.opted_out

        if not opted_out and _opt_in_word(intent, opt_out_type):
            # START / YES / UNSTOP from a resident who never opted out: Twilio's opt-in words,
            # which must not touch the dialogue ("yes" while asked OUI used to lose the booking).
            # START alone is answered (it is what our own footer teaches); YES is Twilio's.
            return (self.render("opt_in_ack"),) if intent.kind is IntentKind.OPT_IN else ()
        mirrored = self._mirror_opt_out(intent, opt_out_type, opted_out)
        if mirrored is not None:
            self._save(conversation, _Outcome(mirrored))
            return tuple(mirrored)
        if opted_out:
            return ()  # no message at all to an opted-out number

        state, context = self.state_before, dict(conversation.context or {})
        self._context_before = dict(context)
        expired = state is not State.IDLE and conversation.expires_at is not None and self.now >= conversation.expires_at
        if expired:
            state, context = State.IDLE, {}
        if expired and intent.kind is IntentKind.NUMBER:
            # "2" answered a list we no longer hold: afresh it means nothing, and
            # guessing a new booking from it would surprise the resident.
            outcome = _Outcome()
        else:
            outcome = self._step(intent, state, context, resident)
        if expired:
            if outcome.messages == [self.render("ask_commune")]:
                # The fresh start would only ask for the commune, which the expiry
                # notice already invites ("envoyez RDV"): one SMS is enough.
                outcome = _Outcome()
            outcome.messages.insert(0, self.render("conversation_expired"))
        if first_contact:
            outcome = self._introduced(outcome)
        self._save(conversation, outcome)
        return tuple(outcome.messages)

    def _introduced(self, outcome: _Outcome) -> _Outcome:
        """A first reply to an unknown number says who writes (service and territory).

        The question for the commune says it in the same SMS; any other first reply
        (slots offered to "RDV Gueret") is followed by ``who_we_are``. A first message
        that gets no reply ("merci") gets none.
        """
        territory = self._territory_name
        who = self.render("who_we_are", territory=territory)
        if not outcome.messages or who in outcome.messages:
            return outcome
        if outcome.messages == [self.render("ask_commune")]:
            outcome.messages = [self.render("ask_commune", territory=territory)]
            return outcome
        outcome.messages.append(who)  # after the answer itself, which stays the first SMS read
        return outcome

    @cached_property
    def _territory_name(self) -> str:
        """The territory of the number written to; else the only territory of the install; else ""."""
        names = reference_data.territory_names(self.session)
        if self._territory_id is not None:
            return names.get(self._territory_id, "")
        return next(iter(names.values())) if len(names) == 1 else ""

    def _mirror_opt_out(self, intent: Intent, opt_out_type: str | None, opted_out: bool) -> list[str] | None:
        """Opt-out and opt-in words, whatever the state; None when the message is not one."""
        kind = (opt_out_type or "").strip().upper()
        if kind == "STOP" or intent.kind is IntentKind.OPT_OUT_SILENT:
            self._set_opt_out(True)
            return []
        if intent.kind is IntentKind.OPT_OUT:
            if opted_out:
                return []
            self._set_opt_out(True)
            return [self.render("opt_out_ack")]
        if intent.kind is IntentKind.OPT_IN:
            self._set_opt_out(False)
            return [self.render("opt_in_ack")]
        if kind == "START" or (intent.kind is IntentKind.OPT_IN_SILENT and opted_out):
            self._set_opt_out(False)
            return []
        return None

    def _set_opt_out(self, opted_out: bool) -> None:
        self._command(SetOptOut(phone=self.phone, opted_out=opted_out))

    def _command(self, command: BookSlot | CancelBooking | JoinWaitlist | SetOptOut) -> Any:
        """Run one of the bus's booking commands, with the very handler the web pages use.

        Inside this SMS's transaction (a savepoint: `JoinedUnitOfWork`), so that the
        inbound message, the dialogue state and the booking commit or fail together; a
        refusal (BookingRefused, NotFound) rolls back the savepoint only and is raised to
        the step, which answers it. Events go out with the SMS's own unit of work.
        """
        uow = JoinedUnitOfWork(self.session)
        clock = FixedClock(self.now)
        if isinstance(command, BookSlot):
            result: Any = booking.book_slot(command, uow=uow, clock=clock, settings=self.settings)
        elif isinstance(command, CancelBooking):
            result = booking.cancel_booking(command, uow=uow, clock=clock, settings=self.settings)
        elif isinstance(command, JoinWaitlist):
            result = booking.add_to_waitlist(command, uow=uow, clock=clock)
        else:
            result = booking.change_opt_out(command, uow=uow, clock=clock)
        self.events.extend(uow.collect_new_events())
        return result

    # ------------------------------------------------------------------ routing

    def _step(self, intent: Intent, state: State, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        kind = intent.kind
        if kind is IntentKind.HELP:
            return _Outcome([self.render("help")], state, context)  # keep the dialogue where it was
        if kind is IntentKind.MY_BOOKINGS:
            return self._my_bookings()
        if kind is IntentKind.CANCEL:
            return self._cancel(intent.number)
        if kind is IntentKind.CANT_COME:
            if state is State.CONFIRMING:  # answering "Confirmer le RDV ... ?": not this one
                return self._confirming(Intent(IntentKind.NO), context, resident)
            return self._cancel(None, ask=True)
        if kind is IntentKind.WHO:
            return _Outcome([self.render("who_we_are", territory=self._territory_name)], state, context)
        if kind in (IntentKind.WHERE, IntentKind.BRING):
            answer = self._answer_question(kind) or (self._next_stop(resident, state, context) if kind is IntentKind.WHERE else None)
            if answer is not None:
                return answer
            # No booking to answer about: read the message as it comes ("c'est ou a Gueret ?").
            intent = Intent(IntentKind.TEXT, text=intent.text)
            kind = intent.kind
            self.intent = intent
        if (
            state is State.IDLE
            and kind in (IntentKind.BOOK, IntentKind.TEXT)
            and not context.get("told_existing")
            and not (intent.text and self._match(intent.text))  # "RDV st leger": a new request, on purpose
        ):
            existing = self._existing_first()
            if existing is not None:
                return existing
        if kind is IntentKind.BOOK:
            return self._start_booking(intent.text, resident)
        handler = {
            State.IDLE: self._idle,
            State.AWAITING_COMMUNE: self._awaiting_commune,
            State.CHOOSING_COMMUNE: self._choosing_commune,
            State.CHOOSING_SERVICE: self._choosing_service,
            State.CHOOSING_SLOT: self._choosing_slot,
            State.CONFIRMING: self._confirming,
            State.CHOOSING_CANCELLATION: self._choosing_cancellation,
            State.CONFIRMING_CANCELLATION: self._confirming_cancellation,
        }[state]
        return handler(intent, context, resident)

    # ------------------------------------------------------------------ states

    def _idle(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        if intent.kind in (IntentKind.THANKS, IntentKind.YES) and not context.get("thanked") and self._upcoming():
            # "merci bonne journee", "ok merci" after a booking: a short friendly word, once, never a new booking.
            return _Outcome([self.render("thanks_reply")], State.IDLE, {"thanked": True})
        if intent.kind in (IntentKind.YES, IntentKind.NO, IntentKind.THANKS, IntentKind.OPT_IN_SILENT):
            # "merci", "ok" after a confirmation or a reminder: nothing to add. YES and
            # UNSTOP are Twilio's opt-in words, which Twilio answers itself.
            return _Outcome()
        if intent.kind is IntentKind.TEXT:
            matches = self._match(intent.text)
            if matches:
                return self._communes_found(matches, said=intent.text)
            # « c'est pour la carte vitale »: no booking word, but what it asks for is kept
            return self._start_booking(intent.text, resident)
        return self._start_booking("", resident)

    def _awaiting_commune(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        if intent.kind is IntentKind.TEXT:
            matches = self._match(intent.text)
            if matches:
                earlier = str(context.get("said", ""))
                return self._communes_found(matches, said=f"{earlier} {intent.text}".strip())
        return self._unknown("avec le nom de votre commune", State.AWAITING_COMMUNE, context)

    def _choosing_commune(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        choices: list[dict[str, Any]] = context.get("communes", [])
        chosen = _pick(intent, choices)
        if chosen is not None:
            return self._with_commune(int(chosen["id"]), str(chosen["name"]), said=str(context.get("said", "")))
        switched = self._switch_commune(intent)
        return switched or self._unknown(_numbers(len(choices)), State.CHOOSING_COMMUNE, context)

    def _choosing_service(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        services: list[dict[str, Any]] = context.get("services", [])
        commune_id, commune_name = int(context["commune_id"]), str(context["commune_name"])
        if intent.kind is IntentKind.NUMBER and intent.number in (0, len(services) + 1):
            return self._offer_slots(commune_id, commune_name, None)
        chosen = _pick(intent, services)
        if chosen is None and intent.kind is IntentKind.TEXT:
            if _means_other_service(intent.text):
                return self._offer_slots(commune_id, commune_name, None)
            chosen = _service_named(intent.text, context.get("offered") or services)
        if chosen is not None:
            return self._offer_slots(commune_id, commune_name, int(chosen["id"]))
        switched = self._switch_commune(intent)
        if switched is None and intent.kind is IntentKind.TEXT:
            elsewhere = self._service_not_offered(intent.text, context)
            if elsewhere is not None:
                body = self.render("service_not_offered", service=elsewhere, choices=len(services) + 1)
                return _Outcome([body], State.CHOOSING_SERVICE, context)
        return switched or self._unknown(_numbers(len(services) + 1), State.CHOOSING_SERVICE, context)

    def _service_not_offered(self, text: str, context: dict[str, Any]) -> str | None:
        """The short label of a catalogue service the answer names ("passeport") that the coming
        stops near the resident do not offer: said plainly rather than "not understood"."""
        offered = {int(s["id"]) for s in context.get("offered") or context.get("services", [])}
        catalogue = [
            {"id": s.id, "label": _short(s.short_label or s.label), "code": s.code}
            for s in reference_data.services(self.session)
            if s.id not in offered
        ]
        named = _service_named(text, catalogue)
        return str(named["label"]) if named is not None else None

    def _choosing_slot(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        offers: list[dict[str, Any]] = context.get("offers", [])
        chosen = _pick(intent, offers)
        if chosen is None and (named := self._switch_commune(intent, exact_only=True)) is not None:
            return named
        chosen = chosen or self._wished(intent, offers)
        if chosen is not None:
            return self._confirm_question(context, chosen)
        elsewhere = self._slots_wished(intent, context)
        if elsewhere is not None:
            return elsewhere
        switched = self._switch_commune(intent)
        return switched or self._unknown(_numbers(len(offers)), State.CHOOSING_SLOT, context)

    def _confirming(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        if intent.kind is IntentKind.YES:
            return self._book(context)
        if intent.kind is IntentKind.NO:
            if context.get("hold_id") is not None:  # the seat kept after a cancelled stop: free it for others
                holds.release_hold(self.session, hold_id=int(context["hold_id"]), now=self.now)
            return self._offer_slots(int(context["commune_id"]), str(context["commune_name"]), context.get("service_id"))
        offers = context.get("offers", [])
        chosen = _pick(intent, offers)
        if chosen is None and context.get("hold_id") is None and (named := self._switch_commune(intent, exact_only=True)) is not None:
            return named
        chosen = chosen or self._wished(intent, offers)
        if chosen is not None:  # changed their mind about the time
            return self._confirm_question(context, chosen)
        if context.get("hold_id") is None:  # a held seat is answered OUI or NON
            elsewhere = self._slots_wished(intent, context)
            if elsewhere is not None:
                return elsewhere
        switched = self._switch_commune(intent)
        return switched or self._unknown("OUI", State.CONFIRMING, context)

    def _confirming_cancellation(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        """After cancel_question: OUI cancels, NON keeps it (and lists it, to reassure); anything else is read afresh."""
        if intent.kind is IntentKind.YES:
            return self._cancel_booking(int(context["booking_id"]))
        if intent.kind in (IntentKind.NO, IntentKind.THANKS):
            return self._my_bookings()
        return self._idle(intent, {}, resident)

    def _choosing_cancellation(self, intent: Intent, context: dict[str, Any], resident: t.Resident | None) -> _Outcome:
        booking_ids: list[int] = context.get("bookings", [])
        if intent.kind is IntentKind.NUMBER and intent.number is not None and 1 <= intent.number <= len(booking_ids):
            return self._cancel_booking(int(booking_ids[intent.number - 1]))
        return self._unknown(_numbers(min(len(booking_ids), BOOKINGS_LISTED)), State.CHOOSING_CANCELLATION, context)

    # ------------------------------------------------------------------ booking steps

    def _start_booking(self, text: str, resident: t.Resident | None) -> _Outcome:
        """RDV [commune]: the commune given, else the one of a previous booking, else ask."""
        if text:
            matches = self._match(text)
            if matches:
                return self._communes_found(matches, said=text)
        if resident is not None and resident.commune_id is not None:
            commune = reference_data.communes(self.session).get(resident.commune_id)
            territory_id = self._territory_id
            if commune is not None and territory_id in (None, commune.territory_id):
                return self._with_commune(commune.id, commune.name, said=text)
        # what the first message said besides (« ... pour ma carte vitale », « mardi ») is kept
        # for when the commune comes: nobody should have to say it twice
        return _Outcome([self.render("ask_commune")], State.AWAITING_COMMUNE, {"said": text} if text else {})

    def _match(self, text: str) -> Matches:
        territory_id = self._territory_id
        rows = [
            (c.id, c.name, c.postcodes, c.insee_code, c.population)
            for c in reference_data.communes(self.session).values()
            if territory_id is None or c.territory_id == territory_id
        ]
        return match_communes(text, candidates_from_rows(rows))

    @cached_property
    def _territory_id(self) -> int | None:
        """The territory whose number the resident wrote to, or None when no territory claims it."""
        number = territory_number(self.to_number)
        if number is None:
            return None
        return reference_data.territory_id_for_number(self.session, number)

    def _switch_commune(self, intent: Intent, *, exact_only: bool = False) -> _Outcome | None:
        """Mid-dialogue, a commune name means "not there, here": start over with it.

        ``exact_only``, asked before an answer is read for a day or time: only a commune
        typed exactly, and no day written out. « sainte marie » names a commune, not
        « mardi » mistyped; « plutot mardi a crocq » stays a wish about the day.
        """
        if intent.kind is not IntentKind.TEXT or (exact_only and names_weekday_exactly(intent.text)):
            return None
        matches = self._match(intent.text)
        if not matches or (exact_only and matches.best.kind != "exact"):
            return None
        return self._communes_found(matches, said=intent.text)

    def _communes_found(self, matches: Matches, *, said: str = "") -> _Outcome:
        """``said``: the whole message, which may also name the service ("... pour mes impots")."""
        if matches.decisive:
            return self._with_commune(matches.best.commune_id, matches.best.name, said=said)
        shown = list(matches.items[:3])
        names = [m.name for m in shown]
        labels = [f"{m.name} ({m.postcode})" if names.count(m.name) > 1 and m.postcode else m.name for m in shown]
        context: dict[str, Any] = {"communes": [{"id": m.commune_id, "name": m.name} for m in shown]}
        if said:
            context["said"] = said[:300]
        return _Outcome([self.render("commune_choice", communes=labels)], State.CHOOSING_COMMUNE, context)

    def _with_commune(self, commune_id: int, commune_name: str, *, said: str = "") -> _Outcome:
        """The service question, unless one service only is offered or the message named it ("pour la caf")."""
        services = booking.services_offered(self.session, commune_id=commune_id, now=self.now, settings=self.settings)
        if len(services) < 2:
            return self._when_said(self._offer_slots(commune_id, commune_name, None), said)
        offered = [
            {"id": s.id, "label": _short(s.short_label or s.label), "code": s.code}
            for s in services
        ]
        named = _service_in_request(said, offered)
        if named is not None:
            return self._when_said(self._offer_slots(commune_id, commune_name, int(named["id"])), said)
        listed = offered[:MAX_SERVICES_LISTED]
        body = self._service_question(listed)
        while count_segments(body).segments > 1 and len(listed) > 1:
            listed.pop()
            body = self._service_question(listed)
        # "offered": every service, also those the one-SMS list had no room for, which
        # the resident may still name ("c'est pour ma retraite").
        context = {"commune_id": commune_id, "commune_name": commune_name, "services": listed, "offered": offered}
        return _Outcome([body], State.CHOOSING_SERVICE, context)

    def _when_said(self, offer: _Outcome, said: str) -> _Outcome:
        """A first message that also said when ("... a Gueret mardi a 10h"): straight to that slot.

        Only when the offer stands and the day or time fits exactly one free slot near the
        resident; otherwise the offer as it is (a list, never a "not offered" reply to a
        question that was not asked).
        """
        if offer.state is not State.CHOOSING_SLOT or not said or not names_day_or_time(said):
            return offer
        found = self._free_slots_wished(said, offer.context)
        return self._offer_wished(offer.context, found) if found else offer

    def _service_question(self, listed: list[dict[str, Any]]) -> str:
        return self.render("service_choice", services=[s["label"] for s in listed] + [OTHER_SERVICE_LABEL])

    def _offer_slots(self, commune_id: int, commune_name: str, service_id: int | None) -> _Outcome:
        slots = booking.free_slots(
            self.session, commune_id=commune_id, now=self.now, settings=self.settings, service_id=service_id, limit=3
        )
        if not slots:
            self._command(JoinWaitlist(phone=self.phone, commune_id=commune_id, service_id=service_id))
            return _Outcome([self.render("waitlist_ack", commune=commune_name)])
        return self._offer(commune_id, commune_name, service_id, slots)

    def _offer(
        self, commune_id: int, commune_name: str, service_id: int | None, slots: Sequence[booking.FreeSlot],
        *, template: str = "slot_offer",
    ) -> _Outcome:
        """The slot question on up to three of ``slots`` (free, soonest and nearest first)."""
        slots = slots[:3]
        # One commune per offer (the template names one): the resident's own first,
        # else the nearest stop that has room.
        shown = [s for s in slots if s.commune_id == slots[0].commune_id]
        offers = [
            {"slot_id": s.slot_id, "start": s.start_at.isoformat(), "commune": s.commune_name} for s in shown
        ]
        context = {
            "commune_id": commune_id,
            "commune_name": commune_name,
            "service_id": service_id,
            "service_label": self._service_label(service_id),
            "offers": offers,
        }
        body = self.render(template, commune=shown[0].commune_name, slots=[s.start_at for s in shown])
        return _Outcome([body], State.CHOOSING_SLOT, context)

    def _service_label(self, service_id: int | None) -> str:
        service = self.session.get(t.Service, service_id) if service_id is not None else None
        return service.short_label if service is not None else GENERIC_SERVICE_LABEL

    def _slots_wished(self, intent: Intent, context: dict[str, Any]) -> _Outcome | None:
        """ "plutot mardi", "a 14h": a day or time that none of the offered slots has.

        The other free slots near the resident are searched for it: one fitting is asked
        for confirmation, several are offered, none gets slot_not_offered (the offers
        stand). None when the answer names no day or time.
        """
        if intent.kind is not IntentKind.TEXT:
            return None
        found = self._free_slots_wished(intent.text, context)
        if found is None:
            return None
        offers = context.get("offers", [])
        if not found:
            near = self._nearest_free(intent.text, context)
            if near:
                return self._offer(
                    int(context["commune_id"]), str(context["commune_name"]), context.get("service_id"), near,
                    template="slot_nearest",
                )  # fmt: skip
            body = self.render("slot_not_offered", choices=max(1, len(offers)))
            state = State.CHOOSING_SLOT if offers else State.IDLE
            return _Outcome([body], state, context if offers else {})
        return self._offer_wished(context, found)

    def _nearest_free(self, text: str, context: dict[str, Any]) -> list[booking.FreeSlot]:
        """The free slots closest to a day or time that none fits ("mercredi" when the bus comes on Tuesday)."""
        tz = self.settings.tz
        today = self.now.astimezone(tz).date()
        wish = read_wish(text, today=today)
        free = booking.free_slots(
            self.session, commune_id=int(context["commune_id"]), now=self.now, settings=self.settings,
            service_id=context.get("service_id"), limit=WISHED_SLOTS_SEARCHED,
        )  # fmt: skip
        # One commune per offer (the template names one): the nearest slot's commune.
        order = nearest(wish, [slot.start_at for slot in free], tz=tz, today=today, count=len(free))
        if not order:
            return []
        commune_id = free[order[0]].commune_id
        closest = [free[i] for i in order if free[i].commune_id == commune_id][:3]
        return sorted(closest, key=lambda slot: slot.start_at)  # offered in time order

    def _free_slots_wished(self, text: str, context: dict[str, Any]) -> list[booking.FreeSlot] | None:
        """The free slots near the resident that fit the day or time in ``text``; None if it names none."""
        if "commune_id" not in context:
            return None
        tz = self.settings.tz
        wish = read_wish(text, today=self.now.astimezone(tz).date())
        if not wish.says_something:
            return None
        free = booking.free_slots(
            self.session, commune_id=int(context["commune_id"]), now=self.now, settings=self.settings,
            service_id=context.get("service_id"), limit=WISHED_SLOTS_SEARCHED,
        )  # fmt: skip
        return [free[i] for i in fitting(wish, [slot.start_at for slot in free], tz=tz) or []]

    def _offer_wished(self, context: dict[str, Any], found: Sequence[booking.FreeSlot]) -> _Outcome:
        """Slots that fit what the resident asked for: one is asked for confirmation, several offered."""
        outcome = self._offer(int(context["commune_id"]), str(context["commune_name"]), context.get("service_id"), found)
        if len(outcome.context["offers"]) == 1:
            return self._confirm_question(outcome.context, outcome.context["offers"][0])
        return outcome

    def _wished(self, intent: Intent, offers: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """The offer an answer such as "jeudi a 10h" or "celui de 9h30" designates, if exactly one."""
        if intent.kind is not IntentKind.TEXT or not offers:
            return None
        tz = self.settings.tz
        index = wished_offer(
            intent.text,
            [datetime.fromisoformat(offer["start"]) for offer in offers],
            tz=tz,
            today=self.now.astimezone(tz).date(),
        )
        return offers[index] if index is not None else None

    def _confirm_question(self, context: dict[str, Any], offer: dict[str, Any]) -> _Outcome:
        body = self.render(
            "confirm_question",
            service=context.get("service_label") or GENERIC_SERVICE_LABEL,
            start=datetime.fromisoformat(offer["start"]),
            commune=offer["commune"],
        )
        return _Outcome([body], State.CONFIRMING, {**context, "chosen": offer})

    def _book(self, context: dict[str, Any]) -> _Outcome:
        chosen = context["chosen"]
        try:
            self._command(
                BookSlot(
                    phone=self.phone, slot_id=int(chosen["slot_id"]), service_id=context.get("service_id"),
                    channel="sms", commune_id=context.get("commune_id"),
                )
            )  # fmt: skip
        except BookingRefused as refusal:
            code = getattr(refusal, "code", "")
            logger.info("sms booking refused: %s", code)
            if code == "already_booked":
                return _Outcome([self.render("already_booked")])
            if code == "opted_out":
                return _Outcome()
            return _Outcome([self.render("slot_unavailable")])
        except NotFound:
            return _Outcome([self.render("slot_unavailable")])
        # No reply: the booking service queued the confirmation (date, place, what to
        # bring, link) in the same transaction; a second SMS would only repeat it.
        return _Outcome()

    # ------------------------------------------------------------------ bookings already made

    def _upcoming(self) -> list[booking.UpcomingBooking]:
        return booking.upcoming_bookings(self.session, phone=self.phone, now=self.now)

    def _existing_first(self) -> _Outcome | None:
        """A resident asking for a booking who already has one hears of it first, once.

        Only a request that names no commune ("RDV", "bonjour je voudrais un rdv"): one
        naming where is a new request made on purpose (one per stop stays the booking
        service's rule, told by already_booked).

        "RDV" again (as the reply invites) then books another: ``told_existing`` in the
        idle context lets it through.
        """
        upcoming = self._upcoming()
        if not upcoming:
            return None
        first = upcoming[0]
        body = self.render("existing_booking", start=first.start_at, commune=first.commune_name, more=len(upcoming) - 1)
        return _Outcome([body], State.IDLE, {"told_existing": True})

    def _answer_question(self, kind: IntentKind) -> _Outcome | None:
        """ "C'est ou ?" and "quels papiers ?" about the next booking; None without one.

        The answer keeps the dialogue where it was (a question mid-booking does not end it).
        Nothing is ever cut: the address, then the site's name, are left out when the place
        does not fit one SMS; a list of documents too long for one SMS goes on in a second,
        and beyond that the booking page holds it.
        """
        upcoming = self._upcoming()
        if not upcoming:
            return None
        first = upcoming[0]
        conversation_state = self.state_before
        context = dict(self._context_before)
        if kind is IntentKind.WHERE:
            return _Outcome([self._place(first)], conversation_state, context)
        return _Outcome(self._documents(first), conversation_state, context)

    def _next_stop(self, resident: t.Resident | None, state: State, context: dict[str, Any]) -> _Outcome | None:
        """ "C'est ou le bus ?" with no booking: the next stop near the commune we know of.

        None when we do not know it (the message is then read afresh, which asks for it).
        """
        # in the middle of a booking, the commune they just named; else where they live
        commune_id = context.get("commune_id") or (resident.commune_id if resident is not None else None)
        if commune_id is None:
            return None
        free = booking.free_slots(self.session, commune_id=int(commune_id), now=self.now, settings=self.settings, limit=1)
        if not free:
            return None
        slot = free[0]
        for site in (slot.site_name, ""):
            body = self.render("next_stop", start=slot.start_at, site=site, commune=slot.commune_name)
            if count_segments(body).segments == 1:
                break
        return _Outcome([body], state, context)

    def _place(self, upcoming: booking.UpcomingBooking) -> str:
        for site, address in ((upcoming.site_name, upcoming.site_address), (upcoming.site_name, ""), ("", "")):
            body = self.render("booking_place", start=upcoming.start_at, site=site, address=address, commune=upcoming.commune_name)
            if count_segments(body).segments == 1:
                return body
        return body

    def _documents(self, upcoming: booking.UpcomingBooking) -> list[str]:
        service = self.session.get(t.Service, upcoming.service_id) if upcoming.service_id is not None else None
        documents = list(service.documents) if service is not None and service.documents else [booking.DEFAULT_BRING]
        first, rest = _pack(documents, lambda items, more: self.render("booking_documents", start=upcoming.start_at, documents=items, more=more))
        link_sms = self.render("documents_more", link=f"{self.settings.base_url}/r/{upcoming.token}")
        if not first:
            return [link_sms]
        if not rest:
            return [first]
        second, beyond = _pack(rest, lambda items, more: self.render("documents_more", documents=items))
        if beyond or not second:
            second = link_sms
        return [first, second]

    def _my_bookings(self) -> _Outcome:
        upcoming = self._upcoming()
        return _Outcome([self.render("my_bookings", bookings=_listed(upcoming), more=len(upcoming) - len(_listed(upcoming)))])

    def _cancel(self, number: int | None, *, ask: bool = False) -> _Outcome:
        """ANNULER cancels at once when it is clear which booking is meant, else asks which.

        Clear means: one upcoming booking, or a number ("ANNULER 2") in the order MES RDV
        lists them. The reminders end with "Pour annuler, répondez ANNULER", so that
        single word must be enough. ``ask``: the resident did not write ANNULER but that
        they cannot come, which is read from a sentence: their one booking is cancelled
        only once they confirm (cancel_question), a wrong reading must not lose it.
        """
        upcoming = self._upcoming()
        if not upcoming:
            return _Outcome([self.render("my_bookings", bookings=[])])
        if number is not None and 1 <= number <= len(upcoming):
            return self._cancel_booking(upcoming[number - 1].booking_id)
        if len(upcoming) == 1 and number is None:
            if ask:
                only = upcoming[0]
                body = self.render("cancel_question", start=only.start_at, commune=only.commune_name)
                return _Outcome([body], State.CONFIRMING_CANCELLATION, {"booking_id": only.booking_id})
            return self._cancel_booking(upcoming[0].booking_id)
        listed = _listed(upcoming)
        body = self.render("cancel_choice", bookings=listed, more=len(upcoming) - len(listed))
        return _Outcome([body], State.CHOOSING_CANCELLATION, {"bookings": [b.booking_id for b in upcoming]})

    def _cancel_booking(self, booking_id: int) -> _Outcome:
        try:
            self._command(CancelBooking(booking_id=booking_id, phone=self.phone, reason=CANCEL_REASON))
        except (BookingRefused, NotFound):
            return self._my_bookings()  # cancelled or past meanwhile: show what is left
        return _Outcome()  # the booking service queued cancellation_ack

    # ------------------------------------------------------------------ helpers

    def _unknown(self, expected: str, state: State, context: dict[str, Any]) -> _Outcome:
        return _Outcome([self.render("unknown_answer", expected=expected)], state, context)

    def render(self, name: str, /, **fields: Any) -> str:
        return self.renderer.render(name, **fields)

    def _conversation_row(self) -> t.Conversation | None:
        """This number's dialogue, locked: two SMS of one resident are answered one after the other."""
        return self.session.exec(_CONVERSATION_LOCKED, params={"phone": self.phone}).first()

    def _new_conversation(self) -> t.Conversation:
        conversation = t.Conversation(phone=self.phone, state=State.IDLE, context={}, updated_at=self.now)
        self.session.add(conversation)
        self.session.flush()  # a concurrent first message of this number fails here, and is retried
        return conversation

    def _save(self, conversation: t.Conversation, outcome: _Outcome) -> None:
        """Store the dialogue's new state with one UPDATE (the ORM's flush of the row cost more
        than the statement, on every SMS)."""
        self.state_after = outcome.state
        expires_at = (
            None
            if outcome.state is State.IDLE
            else self.now + timedelta(minutes=self.settings.conversation_timeout_minutes)
        )
        held_until = outcome.context.get("hold_expires_at") if outcome.state is State.CONFIRMING else None
        if held_until is not None and expires_at is not None:  # a held seat waits longer than a dialogue
            expires_at = max(expires_at, datetime.fromisoformat(held_until))
        self.session.execute(
            _SAVE_CONVERSATION,
            {
                "conversation_id": conversation.id,
                "state": outcome.state.value,
                "context": outcome.context,
                "expires_at": expires_at,
                "updated_at": self.now,
            },
        )


def await_hold_answer(
    session: Session,
    *,
    phone: str,
    held: holds.HeldSeat,
    commune_id: int,
    commune_name: str,
    now: datetime,
) -> None:
    """The resident's next SMS answers the offer of a held seat (their stop was cancelled).

    The dialogue waits in ``confirming`` on that seat until the hold expires, exactly as
    after "Confirmer le RDV ... ? Répondez OUI": OUI books it, NON frees it and offers
    other slots near ``commune_id`` (where the resident lives).
    """
    service = session.get(t.Service, held.hold.service_id) if held.hold.service_id is not None else None
    offer = {"slot_id": held.slot.slot_id, "start": held.slot.start_at.isoformat(), "commune": held.slot.commune_name}
    context = {
        "commune_id": commune_id,
        "commune_name": commune_name,
        "service_id": held.hold.service_id,
        "service_label": service.short_label if service is not None else GENERIC_SERVICE_LABEL,
        "offers": [offer],
        "chosen": offer,
        "hold_id": held.hold.id,
        "hold_expires_at": held.hold.expires_at.isoformat(),
    }
    conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == phone).with_for_update()).first()
    if conversation is None:
        conversation = t.Conversation(phone=phone, state=State.IDLE, context={}, updated_at=now)
    conversation.state = State.CONFIRMING.value
    conversation.context = context
    conversation.expires_at = held.hold.expires_at
    conversation.updated_at = now
    session.add(conversation)


def follow_hold(
    session: Session, *, phone: str, held: holds.HeldSeat, told: bool, commune_id: int, commune_name: str, now: datetime
) -> None:
    """A re-plan moved a held seat: the dialogue waiting on it now waits on the new slot.

    ``told``: the resident got an SMS naming the new seat and asking OUI; the dialogue then
    waits on it whatever it was doing (their last message asks for that answer), as after
    the first offer. Otherwise (same time, same place: nothing to tell) only a dialogue
    still waiting on this hold follows it. ``commune_id``: where the resident lives (NON
    lists slots near it).
    """
    conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == phone)).first()
    waiting = (
        conversation is not None
        and conversation.state == State.CONFIRMING.value
        and (conversation.context or {}).get("hold_id") == held.hold.id
    )
    if told or waiting:
        await_hold_answer(session, phone=phone, held=held, commune_id=commune_id, commune_name=commune_name, now=now)


def drop_hold_answer(session: Session, *, phone: str, hold_id: int, now: datetime) -> None:
    """The held seat was withdrawn: a dialogue waiting on it goes back to idle (an OUI now starts afresh)."""
    conversation = session.exec(select(t.Conversation).where(t.Conversation.phone == phone).with_for_update()).first()
    if conversation is None or (conversation.context or {}).get("hold_id") != hold_id:
        return
    conversation.state = State.IDLE.value
    conversation.context = {}
    conversation.expires_at = None
    conversation.updated_at = now
    session.add(conversation)


def repoint_offers(session: Session, *, slots: dict[int, int], now: datetime) -> int:
    """Dialogues offering slots of a superseded version now offer the same times in the new one.

    ``slots`` maps a superseded slot to its equal in the new version (same place, time and
    service). A resident who read "1) mar. 9h  2) mar. 9h30" before a re-plan and answers
    "1" after it books that very time, instead of hearing that the slot is gone. Offers with
    no equal are left as they are (the booking is then refused and the resident invited to
    ask again); a dialogue waiting on a held seat follows its hold (:func:`follow_hold`).
    Returns how many dialogues changed.
    """
    changed = 0
    for conversation in session.exec(
        select(t.Conversation).where(
            col(t.Conversation.state).in_((State.CHOOSING_SLOT.value, State.CONFIRMING.value)),
            col(t.Conversation.expires_at) > now,
        )
    ).all():
        context = dict(conversation.context or {})
        if context.get("hold_id") is not None:
            continue

        def moved(offer: Any) -> Any:
            if not isinstance(offer, dict) or int(offer.get("slot_id", 0)) not in slots:
                return offer
            return {**offer, "slot_id": slots[int(offer["slot_id"])]}

        offers = [moved(offer) for offer in context.get("offers", [])]
        chosen = moved(context["chosen"]) if "chosen" in context else None
        if offers == context.get("offers", []) and chosen == context.get("chosen"):
            continue
        context["offers"] = offers
        if chosen is not None:
            context["chosen"] = chosen
        conversation.context = context  # a new dict: JSON columns do not track in-place changes
        session.add(conversation)
        changed += 1
    return changed


def _state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        return State.IDLE  # a state from an older version: start afresh rather than fail


def _pick(intent: Intent, choices: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    if intent.kind is IntentKind.NUMBER and intent.number is not None and 1 <= intent.number <= len(choices):
        return choices[intent.number - 1]
    return None


def _numbers(count: int) -> str:
    """"1, 2 ou 3" for the unknown_answer template ("Répondez 1, 2 ou 3.")."""
    return reply_with_number(max(1, count)).removeprefix("Répondez ")


def _short(label: str) -> str:
    """A service label for a numbered SMS list: "Carte d'identité / passeport" -> "Carte d'identité"."""
    return re.split(r"\s+[/(]", label, maxsplit=1)[0].strip()


def _service_named(text: str, services: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The resident named the service ("caf", "c'est pour mes impots") instead of giving its number.

    Only a sentence that names exactly one of the listed services chooses it.
    """
    wanted = " ".join(phrasing.join_initials(normalise(text).split()))  # "C.A.F." -> "caf"
    for service in services:
        if wanted and normalise(service["label"]).startswith(wanted) and len(wanted) >= 3:
            return service
    words = phrasing.strip_courtesy(wanted.split())
    # What the service is called (its short label) and residents' words for it, never the
    # words of its long label: "retraite" is the Retraite service, not MSA's "sante,
    # famille, retraite...", and "passe" is no "mots de passe" workshop.
    named = [
        service
        for service in services
        if any(phrasing.names_phrase(words, phrase) for phrase in phrasing.service_words(service.get("code"), service["label"]))
    ]
    return named[0] if len(named) == 1 else None


def _service_in_request(said: str, services: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """A booking request that also says what for: "je voudrais un rendez vous pour mes impots".

    Only after "pour" (or "c'est pour"), so that "je vous ecris de mon portable" never
    chooses the smartphone workshop; the confirmation question names the service anyway.
    """
    words = normalise(said).split()
    if "pour" not in words:
        return None
    return _service_named(" ".join(words[words.index("pour") + 1 :]), services)


def _means_other_service(text: str) -> bool:
    """ "autre chose", "je ne sais pas": no particular service (the list's "Autre demande")."""
    words = phrasing.strip_courtesy(normalise(text).split())
    return bool(words) and any(
        tuple(words) == phrase or (len(words) <= len(phrase) + 2 and _has_phrase(words, phrase))
        for phrase in phrasing.OTHER_SERVICE_PHRASES
    )


def _has_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    span = len(phrase)
    return any(tuple(words[i : i + span]) == tuple(phrase) for i in range(len(words) - span + 1))


def _listed(upcoming: Sequence[booking.UpcomingBooking]) -> list[dict[str, Any]]:
    return [{"start": b.start_at, "commune": b.commune_name} for b in upcoming[:BOOKINGS_LISTED]]


def _opt_in_word(intent: Intent, opt_out_type: str | None) -> bool:
    """START, YES, UNSTOP (Twilio's opt-in words), by our reading or Twilio's OptOutType."""
    return intent.kind in (IntentKind.OPT_IN, IntentKind.OPT_IN_SILENT) or (opt_out_type or "").strip().upper() == "START"


def _pack(items: Sequence[str], render: Any) -> tuple[str, list[str]]:
    """The longest run of whole ``items`` that ``render(items, more)`` fits in one SMS, and the rest.

    Items are never cut: what does not fit goes on in the next SMS. ``render`` is called
    with ``more=True`` while items remain, so the SMS can say the list goes on.
    """
    for count in range(len(items), 0, -1):
        rest = list(items[count:])
        body = str(render(list(items[:count]), bool(rest)))
        if count_segments(body).segments == 1:
            return body, rest
    return "", list(items)
