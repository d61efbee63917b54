"""GSM-7 alphabet, segment counting and transliteration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.gsm import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentInfo,
    count_segments,
    is_gsm7,
    septets,
    transliterate,
)

GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
basic_text = st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC)), max_size=700)
any_text = st.text(max_size=400)


def test_the_alphabet_has_the_sizes_of_3gpp_23_038() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes minus the escape
    assert len(GSM7_EXTENSION) == 10
    assert "\x1b" not in GSM7_BASIC


@pytest.mark.parametrize("char", list("éèùàìòÉÇÄÖÑÜäöñüÅåØøÆæß@£$¥§¿¡_\n\r"))
def test_these_characters_are_gsm7(char: str) -> None:
    assert is_gsm7(char)


@pytest.mark.parametrize("char", list("çâêîôûœŒ’‘«»“”–—…ÀÂÈÊËÎÏÔÙÛŸáíóúëïÿ`\u00a0\u202f") + ["😀"])
def test_these_characters_are_not_gsm7(char: str) -> None:
    assert not is_gsm7(char)


def test_extension_characters_cost_two_septets() -> None:
    assert septets("€") == 2
    assert septets("{[|]}~^\\\f") == 18
    assert septets("abc€") == 5
    with pytest.raises(ValueError):
        septets("ç")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 1)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 2)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3)),
        ("€" * 80, SegmentInfo("GSM-7", 160, 1)),
        ("é" * 160, SegmentInfo("GSM-7", 160, 1)),
        ("ç" * 70, SegmentInfo("UCS-2", 70, 1)),
        ("ç" * 71, SegmentInfo("UCS-2", 71, 2)),
        ("ç" * 134, SegmentInfo("UCS-2", 134, 2)),
        ("ç" * 135, SegmentInfo("UCS-2", 135, 3)),
        ("😀" * 35, SegmentInfo("UCS-2", 70, 1)),
        ("😀" * 36, SegmentInfo("UCS-2", 72, 2)),
        ("a" * 159 + "ç", SegmentInfo("UCS-2", 160, 3)),
    ],
)
def test_segment_counts_follow_the_160_153_and_70_67_rules(text: str, expected: SegmentInfo) -> None:
    assert count_segments(text) == expected


def test_an_escape_sequence_is_never_split_across_two_parts() -> None:
    # 152 basic septets + "€" (2 septets) cannot share the first 153-septet part.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text).units == 306
    assert count_segments(text).segments == 3
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


def test_a_surrogate_pair_is_never_split_across_two_parts() -> None:
    assert count_segments("ç" * 66 + "😀" + "ç" * 66).segments == 3
    assert count_segments("ç" * 65 + "😀" + "ç" * 67).segments == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Châtel-Guyon", "Chatel-Guyon"),
        ("Saint-Léger-la-Montagne", "Saint-Léger-la-Montagne"),
        ("Crocq", "Crocq"),
        ("Saint-Étienne-de-Fursac", "Saint-Étienne-de-Fursac"),
        ("Sainte-Féréole", "Sainte-Féréole"),
        ("L’Île-d’Yeu", "L'Ile-d'Yeu"),
        ("Besançon", "Besancon"),
        ("ÇA", "ÇA"),
        ("Œuvre « cœur »", 'OEuvre " coeur "'),
        ("Pâques – Noël…", "Paques - Noel..."),
        ("Zoë Ÿ À È Ù", "Zoe Y A E U"),
        ("e\u0301te\u0301", "été"),  # decomposed input comes back composed
        ("10\u202f€", "10 €"),  # narrow no-break space before the euro sign
        ("a\u200bb\u00adc", "abc"),  # zero-width space and soft hyphen vanish
        ("日本 😀", "?? ?"),
    ],
)
def test_transliterate_keeps_gsm7_and_brings_the_rest_close(raw: str, expected: str) -> None:
    assert transliterate(raw) == expected


@given(any_text)
def test_transliterate_always_returns_gsm7(text: str) -> None:
    assert is_gsm7(transliterate(text))


@given(any_text)
def test_transliterate_is_idempotent(text: str) -> None:
    once = transliterate(text)
    assert transliterate(once) == once


@given(gsm_text)
def test_transliterate_leaves_gsm7_text_alone(text: str) -> None:
    assert transliterate(text) == text


@given(any_text, st.characters())
@settings(max_examples=300)
def test_appending_a_character_never_lowers_the_segment_count(text: str, char: str) -> None:
    assert count_segments(text + char).segments >= count_segments(text).segments


@given(gsm_text)
def test_gsm7_text_of_at_most_160_septets_is_one_segment(text: str) -> None:
    info = count_segments(text)
    assert info.encoding == "GSM-7"
    assert info.units == septets(text)
    assert (info.segments == 1) == (info.units <= 160)


@given(basic_text)
def test_basic_gsm7_text_needs_ceil_of_septets_over_153_parts(text: str) -> None:
    info = count_segments(text)
    if info.units > 160:
        assert info.segments == -(-info.units // 153)


@given(any_text)
def test_ucs2_units_are_utf16_code_units(text: str) -> None:
    info = count_segments(text)
    if info.encoding == "UCS-2":
        assert info.units == len(text.encode("utf-16-le")) // 2
        assert (info.segments == 1) == (info.units <= 70)
        assert info.segments >= -(-info.units // 67)
