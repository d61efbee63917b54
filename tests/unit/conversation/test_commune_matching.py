"""Finding the commune a resident typed: typos, abbreviations, postcodes, ambiguity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobile_services.commune_matching import CommuneCandidate, Matches, match_communes, normalise, sounds_like

COMMUNES = [
    CommuneCandidate(1, "Guéret", ("23000",), "23096"),
    CommuneCandidate(2, "Sainte-Feyre", ("23000",), "23193"),
    CommuneCandidate(3, "Saint-Léger-le-Guérétois", ("23000",), "23207"),
    CommuneCandidate(4, "Saint-Léger-la-Montagne", ("87340",), "87156"),
    CommuneCandidate(5, "Châtel-Guyon", ("63140",), "63103"),
    CommuneCandidate(6, "Saint-Sulpice-les-Champs", ("23480",), "23245"),
    CommuneCandidate(7, "Saint-Sulpice-le-Dunois", ("23800",), "23244"),
    CommuneCandidate(8, "Crocq", ("23260",), "23069"),
    CommuneCandidate(9, "La Souterraine", ("23300",), "23176"),
    CommuneCandidate(10, "Mercœur", ("19430",), "19134"),
    CommuneCandidate(11, "L'Île-d'Yeu", ("85350",), "85113"),
    CommuneCandidate(12, "Ajaccio", ("20000", "20090"), "2A004"),
]
NAMES = {c.commune_id: c.name for c in COMMUNES}


def names(matches: Matches) -> list[str]:
    return [m.name for m in matches.items]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Saint-Léger-la-Montagne", "saint leger la montagne"),
        ("  ST LEGER  la montagne ", "saint leger la montagne"),
        ("Ste-Feyre", "sainte feyre"),
        ("Châtel-Guyon", "chatel guyon"),
        ("L'Île-d'Yeu", "l ile d yeu"),
        ("Mercœur", "mercoeur"),
        ("saint-léger—la-montagne!", "saint leger la montagne"),
        ("", ""),
    ],
)
def test_normalise_ignores_case_accents_abbreviations_and_punctuation(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Châtel-Guyon", "Châtel-Guyon"),
        ("chatel guyon", "Châtel-Guyon"),
        ("CHATELGUYON", "Châtel-Guyon"),
        ("chatel guion", "Châtel-Guyon"),
        ("chatel", "Châtel-Guyon"),
        ("st leger la montagne", "Saint-Léger-la-Montagne"),
        ("St-Léger-la-Montagne", "Saint-Léger-la-Montagne"),
        ("saint leger la montagn", "Saint-Léger-la-Montagne"),
        ("st leger la montagen", "Saint-Léger-la-Montagne"),
        ("ste feyre", "Sainte-Feyre"),
        ("st feyre", "Sainte-Feyre"),
        ("sainte fayre", "Sainte-Feyre"),
        ("sulpice les champs", "Saint-Sulpice-les-Champs"),
        ("souteraine", "La Souterraine"),
        ("gueret", "Guéret"),
        ("guere", "Guéret"),
        ("GUERET.", "Guéret"),
        ("mercoeur", "Mercœur"),
        ("ile d yeu", "L'Île-d'Yeu"),
        ("je suis a crocq", "Crocq"),
        ("23260", "Crocq"),
        ("23000 ste feyre", "Sainte-Feyre"),
        ("87156", "Saint-Léger-la-Montagne"),  # INSEE code
        ("2a004", "Ajaccio"),
        ("20090", "Ajaccio"),
    ],
)
def test_one_clear_commune_is_found_despite_typos(typed: str, expected: str) -> None:
    matches = match_communes(typed, COMMUNES)
    assert matches.decisive, names(matches)
    assert matches.best.name == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("st leger", {"Saint-Léger-la-Montagne", "Saint-Léger-le-Guérétois"}),
        ("saint leger", {"Saint-Léger-la-Montagne", "Saint-Léger-le-Guérétois"}),
        ("leger", {"Saint-Léger-la-Montagne", "Saint-Léger-le-Guérétois"}),
        ("saint sulpice", {"Saint-Sulpice-les-Champs", "Saint-Sulpice-le-Dunois"}),
        ("23000", {"Guéret", "Sainte-Feyre", "Saint-Léger-le-Guérétois"}),
    ],
)
def test_close_names_and_shared_postcodes_ask_which_one(typed: str, expected: set[str]) -> None:
    matches = match_communes(typed, COMMUNES)
    assert not matches.decisive
    assert set(names(matches)) == expected


def test_a_shared_postcode_lists_communes_alphabetically() -> None:
    assert names(match_communes("23000", COMMUNES)) == ["Guéret", "Saint-Léger-le-Guérétois", "Sainte-Feyre"]


def test_homonyms_are_both_exact_and_never_decisive() -> None:
    homonyms = [*COMMUNES, CommuneCandidate(13, "Crocq", ("60120",), "60186")]
    matches = match_communes("crocq", homonyms)
    assert [m.kind for m in matches.items] == ["exact", "exact"]
    assert not matches.decisive
    assert {m.postcode for m in matches.items} == {"23260", "60120"}


def test_an_exact_name_beats_a_fuzzy_neighbour() -> None:
    matches = match_communes("gueret", COMMUNES)
    assert names(matches) == ["Guéret"] and matches.best.kind == "exact"


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "saint", "sainte", "la", "le", "merci", "rdv", "bonjour", "oui", "ok", "xyz", "2", "99999", "😀", "?!"],
)
def test_words_that_name_no_commune_match_nothing(typed: str) -> None:
    assert not match_communes(typed, COMMUNES)


def test_two_typos_in_a_short_name_are_too_far_to_guess() -> None:
    # "crak" for "Crocq": two edits in five letters that do not sound like it. Guessing
    # short names that loosely would send residents to the wrong village; they get
    # asked again. ("crok" sounds like Crocq: test_a_name_written_as_it_sounds.)
    assert not match_communes("crak", COMMUNES)


def test_no_candidates_means_no_match() -> None:
    assert not match_communes("Guéret", [])


@given(st.text(max_size=300))
def test_matching_never_fails_and_scores_stay_in_range(typed: str) -> None:
    matches = match_communes(typed, COMMUNES)
    assert len(matches) <= 5
    assert all(0 <= m.score <= 100 and m.commune_id in NAMES for m in matches.items)
    scores = [m.score for m in matches.items]
    assert scores == sorted(scores, reverse=True)


@given(st.sampled_from([c.name for c in COMMUNES]))
def test_every_commune_finds_itself_exactly(name: str) -> None:
    matches = match_communes(name, COMMUNES)
    assert matches.decisive and matches.best.name == name and matches.best.kind == "exact"


@given(st.text(max_size=80))
def test_normalise_is_idempotent(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bonjour, j'habite Chatel-Guyon et je voudrais un rendez-vous s'il vous plait", "Châtel-Guyon"),
        ("Bonjour madame, je vous ecris pour avoir un rendez vous, j'habite a Gueret", "Guéret"),
        ("bonjour je suis a ste feyre pouvez vous me donner un rendez vous", "Sainte-Feyre"),
        ("jhabite chatelguyon", "Châtel-Guyon"),  # the name glued into one word
        ("Je suis a Saint Leger la montagne, merci beaucoup", "Saint-Léger-la-Montagne"),
    ],
)
def test_a_name_inside_a_long_sentence(text: str, expected: str) -> None:
    matches = match_communes(text, COMMUNES)
    assert matches.decisive and matches.best.name == expected


def test_dialogue_words_never_stand_for_a_commune() -> None:
    villages = [*COMMUNES, CommuneCandidate(20, "Vous"), CommuneCandidate(21, "Bonjour")]
    assert not match_communes("bonjour je voudrais un rendez vous pour mes papiers", villages)


@pytest.mark.parametrize(("heard", "name"), [("crok", "Crocq"), ("krok", "Crocq")])
def test_a_name_written_as_it_sounds(heard: str, name: str) -> None:
    # Two edits in a short name, but the same sound: found, at a score below any spelling match.
    matches = match_communes(heard, COMMUNES)
    assert matches.decisive and matches.best.name == name and matches.best.score < 85


def test_sound_never_outranks_spelling_and_gerer_is_not_gueret() -> None:
    assert sounds_like("crocq") == sounds_like("crok") == sounds_like("croc")
    assert sounds_like("gerer") != sounds_like("gueret")  # a soft g is not Guéret's hard one
    assert names(match_communes("gueret", COMMUNES)) == ["Guéret"]
