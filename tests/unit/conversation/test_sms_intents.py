"""The pure intent reader (sms_intents): requests anywhere in a sentence, and their priorities.

No database, no state: text in, intent out. The dialogue tests check what each intent
then does; here only what a message is read as.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mobile_services.service_layer.booking import whole_documents
from mobile_services.slot_wishes import nearest, read_wish
from mobile_services.sms_intents import IntentKind, asks_to_stop, parse_intent

K = IntentKind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        # a stop request anywhere, and it always wins
        ("stop svp", K.OPT_OUT),
        ("Stop merci", K.OPT_OUT),
        ("arretez de m'envoyer des messages", K.OPT_OUT),
        ("je ne veux plus de sms", K.OPT_OUT),
        ("je ne veux plus recevoir vos messages merci", K.OPT_OUT),
        ("desinscrivez moi svp", K.OPT_OUT),
        ("je voudrais un rdv stop", K.OPT_OUT),
        ("annuler mon rdv et stop les sms", K.OPT_OUT),
        ("STOP", K.OPT_OUT_SILENT),  # Twilio's own word: Twilio answers it
        # not a stop request
        ("l'arret du bus c'est ou ?", K.WHERE),
        ("je ne veux plus de rdv", K.BOOK),
        # who writes
        ("c'est qui ?", K.WHO),
        ("mauvais numero", K.WHO),
        ("Bonjour, vous vous etes trompe de numero", K.WHO),
        ("qui etes vous ?", K.WHO),
        # help
        ("j'ai besoin d'aide", K.HELP),
        ("aidez moi svp", K.HELP),
        ("je comprends rien", K.HELP),
        ("comment ca marche ?", K.HELP),
        ("aide numerique", K.TEXT),  # a service's name
        ("comment on fait pour avoir un rendez vous", K.BOOK),
        # questions about a booking
        ("c'est ou ?", K.WHERE),
        ("ou ca se passe ?", K.WHERE),
        ("quelle adresse svp", K.WHERE),
        ("quels papiers je dois amener ?", K.BRING),
        ("je dois apporter quoi", K.BRING),
        ("c'est a quelle heure deja ?", K.MY_BOOKINGS),
        # cancel before questions
        ("je voudrais annuler, c'est ou deja ?", K.CANCEL),
        # articles are no choices
        ("bonjour je voudrais un rdv", K.BOOK),
        ("le un", K.NUMBER),
        # Twilio's opt-in words
        ("YES", K.OPT_IN_SILENT),
        ("START", K.OPT_IN),
    ],
)
def test_what_a_message_is_read_as(body: str, kind: IntentKind) -> None:
    assert parse_intent(body).kind is kind


def test_stop_needs_a_word_about_messages_unless_it_says_stop() -> None:
    assert asks_to_stop("stop".split())
    assert asks_to_stop("arretez les sms".split())
    assert not asks_to_stop("arret du bus".split())
    assert not asks_to_stop("je ne pourrai plus venir".split())


def test_the_confirmation_lists_whole_documents_only() -> None:
    documents = ["Carte Vitale", "avis d'imposition", "relevé d'identité bancaire", "livret de famille"]
    assert whole_documents(documents) == "Carte Vitale, avis d'imposition, etc"
    assert whole_documents(["numéro d'allocataire", "RIB"]) == "numéro d'allocataire, RIB"
    assert whole_documents(["identifiants de connexion à votre espace personnel impots.gouv"]) == "voir le lien"


PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 11, 23)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def test_nearest_slots_to_a_day_not_offered() -> None:
    starts = [_at(1, 9), _at(1, 9, 30), _at(3, 9), _at(8, 14)]  # Tue 1, Thu 3, Tue 8 December
    assert nearest(read_wish("mercredi", today=MONDAY), starts, tz=PARIS, today=MONDAY, count=2) == [0, 1]
    assert nearest(read_wish("jeudi a 15h", today=MONDAY), starts, tz=PARIS, today=MONDAY, count=1) == [2]
    assert nearest(read_wish("lundi 7 l'apres midi", today=MONDAY), starts, tz=PARIS, today=MONDAY, count=1) == [3]
    assert nearest(read_wish("bof", today=MONDAY), starts, tz=PARIS, today=MONDAY) == []
