"""Finding the commune a resident means from what they typed in an SMS.

Residents type on old phones, without accents, with abbreviations ("st leger"),
typos ("chatel guion"), without hyphens, or give their postcode. A wrong guess
books them into the wrong village, so the rules are deliberately layered, from
the most certain to the least:

1. exact name after normalisation (case, accents, ``St``/``Ste``, hyphens and
   apostrophes ignored; "chatelguyon" equals "Châtel-Guyon" too);
2. postcode (``Commune.postcodes``) or INSEE code: every commune carrying it
   (several communes often share one postcode, hence a numbered choice);
3. fuzzy similarity (rapidfuzz) of the whole name, or of the distinctive words
   the resident gave ("sulpice les champs", "saint leger" - the latter being
   ambiguous when two Saint-Léger exist).

`match_communes` ranks candidates; `Matches.decisive` tells whether the best
one is clear enough to use without asking. Pure functions over plain data: the
database is read by the caller (`candidates_from_rows`), so everything here is
unit-tested without one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz

__all__ = [
    "CommuneCandidate",
    "CommuneMatch",
    "Matches",
    "match_communes",
    "normalise",
    "sounds_like",
]

MatchKind = Literal["exact", "postcode", "fuzzy"]

#: Whole-name similarity (0-100) from which a fuzzy candidate is kept. One typo in
#: a ten-letter name scores about 90; two in a five-letter name (crok/crocq) 67.
FUZZY_THRESHOLD = 80.0
#: A fuzzy leader is used without asking only if it beats the runner-up by this much.
DECISIVE_MARGIN = 8.0
#: Similarity of two single words for them to count as the same word.
WORD_THRESHOLD = 85.0

# Words that do not tell communes apart: a query made only of these ("saint",
# "la") matches nothing rather than half the territory.
_COMMON_WORDS = frozenset(
    {"saint", "sainte", "saints", "saintes", "le", "la", "les", "l", "de", "du", "des", "d",
     "sur", "sous", "en", "et", "lez", "aux", "au", "a"}
)  # fmt: skip
# Words of the dialogue and of polite sentences: never part of a commune's name found in
# a sentence (a village called "Vous" or "Bonjour" would otherwise match every message).
_DIALOGUE_WORDS = frozenset(
    {"bonjour", "bonsoir", "madame", "monsieur", "merci", "beaucoup", "rendez", "vous", "rdv", "rendezvous",
     "voudrais", "voudrai", "veux", "souhaite", "souhaiterais", "habite", "jhabite", "habitons", "suis", "vis",
     "pour", "avec", "avoir", "prendre", "besoin", "aide", "votre", "notre", "plait", "svp", "cordialement",
     "commune", "village", "ville", "pres", "cote", "mairie", "bus", "passage", "pouvez", "donner", "ecris",
     "mon", "mes", "une", "est", "c", "j", "je", "me", "moi", "nous", "ici", "dans", "creuse", "demande"}
)  # fmt: skip
# Prepositions a sentence puts before a name ("je suis a chatel"); names may hold them too,
# so they are only set aside when looking for part of a name in a sentence.
_SENTENCE_ONLY_WORDS = frozenset({"a", "de", "en", "sur", "habite", "reside", "jsuis", "jhabite", "vis"})
#: Sentences longer than this are not searched for a commune name (a pasted text, not an answer).
MAX_SENTENCE_WORDS = 40
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CODE = re.compile(r"^(?:\d{5}|2[ab]\d{3})$")


def normalise(text: str) -> str:
    """Lower-case words without accents, separated by single spaces; St/Ste spelled out.

    "  Saint-Léger-la-Montagne " -> "saint leger la montagne"; "Ste Feyre" ->
    "sainte feyre"; "L'Île-d'Yeu" -> "l ile d yeu"; "Mercœur" -> "mercoeur".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = ascii_only.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    words = _NON_ALNUM.sub(" ", ascii_only).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


@dataclass(frozen=True)
class CommuneCandidate:
    """A commune as the matcher needs it (one row of the commune table)."""

    commune_id: int
    name: str
    postcodes: tuple[str, ...] = ()
    insee_code: str = ""
    population: int = 0
    """Listed first when a postcode alone names several communes (most residents live there)."""


@dataclass(frozen=True)
class CommuneMatch:
    """One candidate for what the resident typed, with how sure we are (0-100)."""

    commune_id: int
    name: str
    score: float
    kind: MatchKind
    postcode: str = ""


@dataclass(frozen=True)
class Matches:
    """Ranked matches, best first (empty when nothing is close enough)."""

    items: tuple[CommuneMatch, ...]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def best(self) -> CommuneMatch:
        return self.items[0]

    @property
    def decisive(self) -> bool:
        """True when the best match can be used without asking the resident to choose."""
        if not self.items:
            return False
        if len(self.items) == 1:
            return True
        best, second = self.items[0], self.items[1]
        if best.kind != "fuzzy":
            # Exact names and postcodes never compete with fuzzy guesses (see
            # match_communes); two exact hits are homonyms: ask.
            return False
        return best.score - second.score >= DECISIVE_MARGIN


@dataclass(frozen=True)
class _Indexed:
    candidate: CommuneCandidate
    words: tuple[str, ...]
    joined: str
    compact: str


def candidates_from_rows(rows: Iterable[Sequence[Any]]) -> list[CommuneCandidate]:
    """Build candidates from ``(id, name, postcodes, insee_code[, population])`` rows of the commune table."""
    return [
        CommuneCandidate(
            commune_id=row[0], name=row[1], postcodes=tuple(row[2] or ()), insee_code=row[3] or "",
            population=int(row[4] or 0) if len(row) > 4 else 0,
        )  # fmt: skip
        for row in rows
    ]


def match_communes(query: str, candidates: Sequence[CommuneCandidate], *, limit: int = 5) -> Matches:
    """Rank the communes that `query` may name; see the module docstring for the rules."""
    words = normalise(query).split()
    if not words or not candidates:
        return Matches(())
    index = [_index(c) for c in candidates]

    codes = [w for w in words if _CODE.match(w)]
    rest = [w for w in words if not _CODE.match(w)]
    if codes:
        by_code = _by_code(codes, index)
        if not by_code:
            return Matches(())
        if not rest:
            # A postcode alone: its communes by population (most residents first), then by name.
            population = {c.commune_id: c.population for c in candidates}
            ranked = sorted(by_code, key=lambda m: (-population.get(m.commune_id, 0), _sort_name(m.name)))
            return Matches(tuple(ranked[:limit]))
        # "23000 sainte feyre": the name chooses among the communes of that postcode.
        named = _by_name(rest, [i for i in index if i.candidate.commune_id in {m.commune_id for m in by_code}], limit)
        return named if named else Matches(tuple(by_code[:limit]))
    return _by_name(words, index, limit)


def _index(candidate: CommuneCandidate) -> _Indexed:
    joined = normalise(candidate.name)
    return _Indexed(candidate=candidate, words=tuple(joined.split()), joined=joined, compact=joined.replace(" ", ""))


def _sort_name(name: str) -> str:
    return normalise(name)


def _by_code(codes: Sequence[str], index: Sequence[_Indexed]) -> list[CommuneMatch]:
    found: list[CommuneMatch] = []
    for item in index:
        postcodes = item.candidate.postcodes
        for code in codes:
            if code in postcodes or code == item.candidate.insee_code.casefold():
                shown = code if code in postcodes else (postcodes[0] if postcodes else "")
                found.append(CommuneMatch(item.candidate.commune_id, item.candidate.name, 100.0, "postcode", shown))
                break
    return found


def _by_name(words: Sequence[str], index: Sequence[_Indexed], limit: int) -> Matches:
    joined = " ".join(words)
    compact = joined.replace(" ", "")
    exact = [i for i in index if i.joined == joined or i.compact == compact]
    if exact:
        return Matches(tuple(_match(i, 100.0, "exact") for i in exact[:limit]))
    scored: list[CommuneMatch] = []
    # "j'habite chatel": the words left once the sentence's own words are set aside
    content = [w for w in words if w not in _DIALOGUE_WORDS and w not in _SENTENCE_ONLY_WORDS]
    for item in index:
        score = max(
            fuzz.ratio(joined, item.joined),
            fuzz.ratio(compact, item.compact),
            _part_of_name_score(words, item),
            _part_of_name_score(content, item) if content and content != list(words) else 0.0,
            _name_in_sentence_score(words, item),
        )
        if score >= FUZZY_THRESHOLD:
            scored.append(_match(item, score, "fuzzy"))
    if not scored and len(words) <= 4 and len(compact) >= 4:
        sound = sounds_like(joined)
        scored = [_match(item, SOUND_SCORE, "fuzzy") for item in index if sounds_like(item.joined) == sound]
    scored.sort(key=lambda m: (-m.score, _sort_name(m.name)))
    return Matches(tuple(scored[:limit]))


# How French sounds, roughly, for residents who write a name as they hear it ("crok" for
# Crocq, "sinte fere" for Sainte-Feyre): spellings of one sound become one letter. No
# maintained library has a French phonetic key (the English ones read "gu" and "ch"
# the English way), so these few rules are ours; they only add a candidate when the
# spelling itself matches nothing, and at a score that never beats a real match.
_SOUNDS = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ph", "f"), (r"sch", "x"), (r"ch", "x"), (r"(ck|cq|qu|q|k)", "k"), (r"c(?=[eiy])", "s"), (r"c", "k"),
        (r"gu(?=[eiy])", "G"), (r"g(?=[eiy])", "j"), (r"(eau|au)", "o"),
        (r"(ain|ein|in|im|un)(?![aeiou])", "I"), (r"(an|en|am|em)(?![aeiou])", "A"), (r"(on|om)(?![aeiou])", "O"),
        (r"(ai|ei|ey|ay)", "e"), (r"y", "i"), (r"(?<=[aeiou])s(?=[aeiou])", "z"), (r"h", ""), (r"w", "v"),
        (r"(er|ez|et)$", "e"), (r"(?<=.)[stdxp]$", ""), (r"(?<=.)e$", ""), (r"(.)\1+", r"\1"),
    )
)  # fmt: skip
#: Score of a candidate found by sound only: kept (above FUZZY_THRESHOLD), below any spelling match.
SOUND_SCORE = 82.0


def sounds_like(text: str) -> str:
    """A rough French phonetic key of a normalised name: "crocq", "crok" and "croc" all give "krok"."""
    key = text.replace(" ", "")
    for pattern, replacement in _SOUNDS:
        key = pattern.sub(replacement, key)
    return key


def _match(item: _Indexed, score: float, kind: MatchKind) -> CommuneMatch:
    postcode = item.candidate.postcodes[0] if item.candidate.postcodes else ""
    return CommuneMatch(item.candidate.commune_id, item.candidate.name, round(float(score), 1), kind, postcode)


def _same_word(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 4 and fuzz.ratio(a, b) >= WORD_THRESHOLD)


def _part_of_name_score(words: Sequence[str], item: _Indexed) -> float:
    """The resident gave part of the name ("sulpice les champs", "souteraine").

    Every word they typed must be a word of the name (typos allowed on words of
    four letters or more) and at least one must be distinctive, so "saint" or
    "la" alone match nothing. The score grows with the share of the name given:
    85 for a small part, up to 95.
    """
    distinctive = [w for w in words if w not in _COMMON_WORDS]
    if not distinctive or max(len(w) for w in distinctive) < 4:
        return 0.0
    if not all(any(_same_word(w, n) for n in item.words) for w in words):
        return 0.0
    coverage = min(1.0, sum(len(w) for w in words) / max(1, sum(len(n) for n in item.words)))
    return 85.0 + 10.0 * coverage


def _name_in_sentence_score(words: Sequence[str], item: _Indexed) -> float:
    """The resident wrote a sentence containing the name ("je suis a crocq", "Bonjour,
    j'habite Chatelguyon et je voudrais un rendez-vous").

    The name's words must follow each other (typos allowed on long words), or the name
    be written as one word; words of the dialogue itself ("bonjour", "rendez", "vous")
    never stand for a commune, so a long sentence does not match a village named like them.
    """
    if len(words) > MAX_SENTENCE_WORDS or len(words) < 2 or len(item.compact) < 4:
        return 0.0
    span = len(item.words)
    for start in range(len(words) - span + 1 if len(words) > span else 0):
        window = words[start : start + span]
        if all(w in _DIALOGUE_WORDS or w in _COMMON_WORDS for w in window):
            continue
        if all(_same_word(w, n) for w, n in zip(window, item.words, strict=True)):
            return 88.0
    if span > 1 and len(item.compact) >= 8:
        for word in words:  # "chatelguyon", "saintfeyre": the name glued into one word
            if word not in _DIALOGUE_WORDS and fuzz.ratio(word, item.compact) >= 90:
                return 88.0
    return 0.0
