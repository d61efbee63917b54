"""Whole sentences as elderly residents write them, read before looking at the state."""

from __future__ import annotations

import pytest

from mobile_services.conversation import Intent, IntentKind, parse_intent
from mobile_services.sms_phrasing import join_initials, names_phrase

K = IntentKind


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        # choices, with words around them
        ("le deuxieme", Intent(K.NUMBER, number=2)),
        ("La deuxième s'il vous plaît", Intent(K.NUMBER, number=2)),
        ("un", Intent(K.NUMBER, number=1)),
        ("trois", Intent(K.NUMBER, number=3)),
        ("2eme", Intent(K.NUMBER, number=2)),
        ("1 merci", Intent(K.NUMBER, number=1)),
        ("Bonjour, le 2 si possible, merci beaucoup", Intent(K.NUMBER, number=2)),
        ("je prends le numero 3", Intent(K.NUMBER, number=3)),
        ("finalement le 3", Intent(K.NUMBER, number=3)),
        ("oui le 2", Intent(K.NUMBER, number=2)),
        # yes and no in sentences
        ("oui je veux bien merci madame", Intent(K.YES)),
        ("Oui, merci beaucoup, bonne journée", Intent(K.YES)),
        ("ça me va très bien", Intent(K.YES)),
        ("c'est d'accord", Intent(K.YES)),
        ("dacor", Intent(K.YES)),
        ("ouii", Intent(K.YES)),
        ("entendu", Intent(K.YES)),
        ("non c'est trop tot", Intent(K.NO)),
        ("je ne peux pas a cette heure la", Intent(K.NO)),
        ("pas possible merci", Intent(K.NO)),
        # cancelling, coming or not
        ("Bonjour je voudrais annuler mon rendez-vous de jeudi", Intent(K.CANCEL)),
        ("je ne pourrai pas venir", Intent(K.CANT_COME)),
        ("empêchement, désolée", Intent(K.CANT_COME)),
        ("je ne viendrai pas", Intent(K.CANT_COME)),
        # my bookings, a new booking
        ("c'est quand mon rendez vous ?", Intent(K.MY_BOOKINGS)),
        ("pouvez vous me rappeler la date de mon rdv", Intent(K.MY_BOOKINGS)),
        ("bonjour je voudrais un rendez vous a crocq", Intent(K.BOOK, text="je voudrais un rendez vous a crocq")),
        ("comment on fait pour avoir un rendez vous", Intent(K.BOOK, text="comment on fait pour avoir un rendez vous")),
        ("allo", Intent(K.BOOK)),
        # apostrophes left out, misspellings, a thumbs up
        ("cest bon", Intent(K.YES)),
        ("jai bien un rdv ?", Intent(K.MY_BOOKINGS)),
        ("le 2 si c est possible", Intent(K.NUMBER, number=2)),
        ("anuler", Intent(K.CANCEL)),
        ("👍", Intent(K.YES)),
        ("👍🏽", Intent(K.YES)),
        ("✔️", Intent(K.YES)),
        # a no that says when instead: read as a wish by the slot question
        ("non je prefere le matin", Intent(K.TEXT, text="non je prefere le matin")),
        ("oui mais mardi", Intent(K.TEXT, text="oui mais mardi")),
        ("merci beaucoup, a jeudi", Intent(K.THANKS)),
        ("Bien reçu merci", Intent(K.THANKS)),
        ("je prefere le 3", Intent(K.NUMBER, number=3)),
        ("je ne peux plus venir", Intent(K.CANT_COME)),
        ("je pourai pas venir", Intent(K.CANT_COME)),
        ("je peu pas venir", Intent(K.CANT_COME)),
        ("je serais absente jeudi", Intent(K.CANT_COME)),
        ("C'est à quelle heure déjà ?", Intent(K.MY_BOOKINGS)),
        # opt-out Twilio does not read (it only reads the bare word): ours, acknowledged
        ("stop merci", Intent(K.OPT_OUT)),
        ("Arrêt svp", Intent(K.OPT_OUT)),
    ],
)
def test_sentences_are_read_for_what_they_mean(body: str, intent: Intent) -> None:
    assert parse_intent(body) == intent


@pytest.mark.parametrize(
    "body",
    [
        "oui mais pas jeudi",  # a yes with a no in it: ask again
        "non non oui",
        "je ne veux pas annuler",  # never a cancellation
        "le 2 ou le 3",  # two choices
        "2 personnes",
        "deux chaises",  # a commune (Deux-Chaises), not a choice
        "je ne sais pas si je pourrai venir",
    ],
)
def test_unclear_sentences_stay_text(body: str) -> None:
    assert parse_intent(body).kind is K.TEXT


def test_merci_alone_is_still_thanks_and_bonjour_still_starts_a_booking() -> None:
    assert parse_intent("Merci beaucoup !").kind is K.THANKS
    assert parse_intent("merci beaucoup bonne journee madame").kind is K.THANKS  # not a new booking
    assert parse_intent("Merci, au revoir").kind is K.THANKS
    assert parse_intent("merci pour tout").kind is K.THANKS
    assert parse_intent("Bonjour madame").kind is K.TEXT  # idle: asks the commune (no commune named)
    assert parse_intent("bonjour").kind is K.BOOK


@pytest.mark.parametrize(
    ("words", "phrase", "named"),
    [
        ("c est pour mes impots", "impot", True),  # plural
        ("les allocat", "allocations", True),  # a long start of the word
        ("pour ma declaraton", "declaration", True),  # a typo in a long word
        ("le bus passe quand", "passeport", False),  # "passe" is not "passeport"
        ("je fais mes courses", "cours", False),
        ("pour la carte grise", "carte grise", True),
        ("pour la carte vitale", "carte grise", False),
    ],
)
def test_a_service_is_named_by_whole_words_not_their_starts(words: str, phrase: str, named: bool) -> None:
    assert names_phrase(words.split(), phrase) is named


@pytest.mark.parametrize(
    ("words", "joined"),
    [("la c a f", "la caf"), ("m s a svp", "msa svp"), ("c est a", "c est a"), ("j ai", "j ai")],
)
def test_acronyms_typed_with_dots_are_one_word(words: str, joined: str) -> None:
    assert " ".join(join_initials(words.split())) == joined
