"""« Je ne pourrai pas venir »: read from a sentence, so the booking is cancelled only once confirmed."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.storage import tables as t
from tests.unit.conversation.conftest import Chat

QUESTION = "Annuler votre RDV du mar. 1er déc. à 9h à Guéret ? Répondez OUI pour l'annuler."


def statuses(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [b.status for b in session.exec(select(t.Booking).order_by(t.Booking.id))]  # type: ignore[arg-type]


def book_gueret(chat: Chat) -> None:
    chat("RDV Guéret")
    chat("1")
    chat("OUI")


def test_cannot_come_asks_first_and_no_keeps_the_booking(chat: Chat, engine: Engine) -> None:
    book_gueret(chat)
    assert chat("je ne pourrai pas venir").messages == (QUESTION,)
    assert statuses(engine) == ["confirmed"]
    kept = chat("non je garde mon rdv").messages
    assert kept[0].startswith("Vos RDV :\n1) mar. 1er déc. 9h Guéret")
    assert statuses(engine) == ["confirmed"]


def test_cannot_come_then_oui_cancels(chat: Chat, engine: Engine) -> None:
    book_gueret(chat)
    assert chat("je serai absente, desolee").messages == (QUESTION,)
    assert chat("oui").messages == ()  # the booking service queues cancellation_ack
    assert statuses(engine) == ["cancelled"]


def test_annuler_still_cancels_at_once(chat: Chat, engine: Engine) -> None:
    book_gueret(chat)
    assert chat("je voudrais annuler mon rendez-vous").messages == ()
    assert statuses(engine) == ["cancelled"]


def test_someone_else_not_coming_is_no_cancellation(chat: Chat, engine: Engine) -> None:
    book_gueret(chat)
    reply = chat("ma fille ne pourra pas venir me chercher").messages
    assert not any(m.startswith("Annuler") for m in reply)
    assert statuses(engine) == ["confirmed"]


def test_another_message_after_the_question_is_read_afresh(chat: Chat, engine: Engine) -> None:
    book_gueret(chat)
    chat("je ne viendrai pas")
    assert chat("MES RDV").messages[0].startswith("Vos RDV :")
    assert statuses(engine) == ["confirmed"]
