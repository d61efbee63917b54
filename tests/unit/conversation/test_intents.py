"""Reading a message before looking at the state: keywords, numbers, free text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobile_services.conversation import Intent, IntentKind, parse_intent

K = IntentKind


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("RDV", Intent(K.BOOK)),
        ("rdv", Intent(K.BOOK)),
        ("Rendez-vous", Intent(K.BOOK)),
        ("RENDEZ VOUS", Intent(K.BOOK)),
        ("Bonjour", Intent(K.BOOK)),
        ("bonjour !", Intent(K.BOOK)),
        ("RDV Crocq", Intent(K.BOOK, text="crocq")),
        ("rdv à Châtel-Guyon", Intent(K.BOOK, text="chatel guyon")),
        ("MES RDV", Intent(K.MY_BOOKINGS)),
        ("mes rendez-vous", Intent(K.MY_BOOKINGS)),
        ("ANNULER", Intent(K.CANCEL)),
        ("Annuler 2", Intent(K.CANCEL, number=2)),
        ("annuler mon rdv", Intent(K.CANCEL)),
        ("AIDE", Intent(K.HELP)),
        ("?", Intent(K.HELP)),
        ("OUI", Intent(K.YES)),
        ("oui.", Intent(K.YES)),
        ("Ok", Intent(K.YES)),
        ("Non", Intent(K.NO)),
        ("Merci !", Intent(K.THANKS)),
        ("2", Intent(K.NUMBER, number=2)),
        (" 3 ", Intent(K.NUMBER, number=3)),
        ("2)", Intent(K.NUMBER, number=2)),
        ("le 1", Intent(K.NUMBER, number=1)),
        ("n°2", Intent(K.NUMBER, number=2)),
        ("0", Intent(K.NUMBER, number=0)),
        ("23000", Intent(K.TEXT, text="23000")),  # a postcode, not a choice
        ("Guéret", Intent(K.TEXT, text="Guéret")),
        ("", Intent(K.TEXT, text="")),
    ],
)
def test_messages_are_read_like_a_counter_agent_would(body: str, intent: Intent) -> None:
    assert parse_intent(body) == intent


@pytest.mark.parametrize("body", ["STOP", "stop", "Stop.", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
def test_twilio_opt_out_words_are_only_mirrored_silently(body: str) -> None:
    # Twilio opts the number out and answers itself; CANCEL never means "annuler" here.
    assert parse_intent(body).kind is K.OPT_OUT_SILENT


@pytest.mark.parametrize("body", ["ARRET", "Arrêt", "arrêter"])
def test_arret_is_our_opt_out_and_is_acknowledged(body: str) -> None:
    assert parse_intent(body).kind is K.OPT_OUT


@pytest.mark.parametrize("body", ["YES", "yes", "UNSTOP"])
def test_twilio_opt_in_words_never_mean_oui(body: str) -> None:
    assert parse_intent(body).kind is K.OPT_IN_SILENT


def test_start_opts_back_in() -> None:
    assert parse_intent("START").kind is K.OPT_IN


@given(st.text(max_size=400))
def test_any_text_has_an_intent(body: str) -> None:
    intent = parse_intent(body)
    assert isinstance(intent.kind, IntentKind)
    if intent.kind is K.NUMBER:
        assert intent.number is not None and 0 <= intent.number <= 99
