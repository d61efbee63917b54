"""Reading whole sentences the way residents write them, beyond the dialogue's keywords.

Elderly residents rarely answer "2" or "OUI": they write "Le deuxieme s'il vous plait",
"oui je veux bien merci madame", "je ne pourrai pas venir". The phrasing corpus
(tests/data/sms_phrasing.toml, measured by ``python -m benchmarks.sms_phrasing``) holds
such answers; the rules here are what it took to understand them on the first try.

Everything works on words as `commune_matching.normalise` gives them (lower case, no
accents, no punctuation). The rules stay conservative: a sentence that mixes a yes and a
no, or names two choices, is left unread so that the dialogue asks again rather than
book the wrong thing. Words listed here are what residents write, not what they read:
replies stay in the SMS templates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz
from text_to_num import alpha2digit

from mobile_services.commune_matching import normalise

__all__ = [
    "OTHER_SERVICE_PHRASES",
    "asks_my_bookings",
    "cannot_come",
    "choice_number",
    "mentions_cancel",
    "means_no",
    "means_yes",
    "names_phrase",
    "service_words",
    "join_initials",
    "split_elisions",
    "strip_courtesy",
    "thanks",
    "wants_booking",
    "with_digits",
]

# Greetings, forms of address and thanks around the answer itself: "Bonjour madame, le
# 2 s'il vous plait, merci beaucoup" is "le 2".
_LEADING = (
    ("oui", "bonjour"), ("bonjour",), ("bonsoir",), ("salut",), ("allo",), ("madame",), ("monsieur",),
    ("alors",), ("euh",), ("ben",), ("bah",), ("finalement",), ("plutot",), ("et", "bien"), ("eh", "bien"),
)  # fmt: skip
_TRAILING = (
    ("merci", "beaucoup"), ("merci", "bien"), ("merci",), ("svp",), ("stp",), ("s", "il", "vous", "plait"),
    ("sil", "vous", "plait"), ("s", "il", "vous", "plais"), ("si", "vous", "plait"), ("cordialement",),
    ("bonne", "journee"), ("bonne", "soiree"), ("madame",), ("monsieur",), ("si", "possible"), ("a", "bientot"),
    ("de", "votre", "aide"), ("pour", "votre", "aide"), ("d", "avance"), ("par", "avance"), ("desole",),
    ("desolee",), ("au", "revoir"), ("bonne", "fin", "de", "journee"), ("a", "vous", "aussi"), ("a", "vous"),
    ("encore", "merci"), ("bien", "a", "vous"), ("salutations",), ("bisous",), ("si", "c", "est", "possible"),
    ("si", "ca", "vous", "va"), ("si", "vous", "voulez"), ("si", "vous", "pouvez"), ("a", "demain"),
    *(("a", day) for day in ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi")),  # "merci, a jeudi"
)  # fmt: skip
# Words typed without their apostrophe ("cest", "jai"), as they read once split.
_ELISIONS = {
    "cest": ("c", "est"), "jai": ("j", "ai"), "jhabite": ("j", "habite"), "jsuis": ("je", "suis"),
    "chui": ("je", "suis"), "sil": ("s", "il"), "jveux": ("je", "veux"), "jvoudrais": ("je", "voudrais"),
    "jpeux": ("je", "peux"), "jpourrai": ("je", "pourrai"), "ca": ("ca",), "sa": ("ca",),
}  # fmt: skip

_ORDINALS = {
    "premier": 1, "premiere": 1, "1er": 1, "1ere": 1, "1re": 1, "un": 1, "une": 1,
    "deuxieme": 2, "second": 2, "seconde": 2, "2eme": 2, "2e": 2, "2ieme": 2, "2nd": 2, "2nde": 2,
    "troisieme": 3, "3eme": 3, "3e": 3, "3ieme": 3,
    "quatrieme": 4, "4eme": 4, "4e": 4, "4ieme": 4,
    "cinquieme": 5, "5eme": 5, "5e": 5, "sixieme": 6, "6eme": 6, "septieme": 7, "7eme": 7,
    "huitieme": 8, "8eme": 8, "neuvieme": 9, "9eme": 9,
}  # fmt: skip
# Words that may surround a choice without changing it: "je prends le numero 2",
# "celui-la, le 3eme creneau".
_AROUND_CHOICE = frozenset(
    {"le", "la", "l", "n", "no", "num", "numero", "choix", "option", "je", "prends", "prend", "choisis",
     "choisi", "veux", "voudrais", "voudrai", "c", "est", "ce", "sera", "celui", "celle", "creneau",
     "rdv", "rendez", "vous", "service", "oui", "non", "ok", "alors", "donc", "pour", "moi", "bien",
     "mettez", "reponse", "reponds", "mais", "prefere", "preferes", "prefererais", "plutot", "prendrai",
     "prendrais", "choisirais", "mets", "met", "plus", "tot", "tard"}
)  # fmt: skip

_YES_WORDS = frozenset(
    {"oui", "ouii", "ouiii", "ouai", "ouais", "oue", "wi", "ui", "ok", "okay", "oki", "oke", "okey", "okai", "dac", "dacc", "daccord",
     "dacor", "dacord", "parfait", "entendu", "volontiers", "volontier", "confirme", "confirmer", "confirmé",
     "impeccable", "nickel", "parfaitement", "absolument", "certainement", "evidemment", "exact", "exactement"}
)  # fmt: skip
_YES_PHRASES = (
    ("d", "accord"), ("bien", "sur"), ("ca", "me", "va"), ("sa", "me", "va"), ("ca", "me", "convient"),
    ("sa", "me", "convient"), ("cela", "me", "convient"), ("ca", "marche"), ("sa", "marche"), ("c", "est", "bon"),
    ("c", "bon"), ("c", "est", "ok"), ("c", "ok"), ("c", "est", "parfait"), ("c", "parfait"), ("c", "est", "d", "accord"),
    ("je", "confirme"), ("j", "y", "serai"), ("je", "serai", "la"), ("je", "viendrai"), ("avec", "plaisir"),
    ("tres", "bien"), ("tout", "a", "fait"), ("je", "veux", "bien"), ("je", "le", "prends"), ("va", "pour"),
)  # fmt: skip
_NO_WORDS = frozenset({"non", "nan", "nn", "no", "nope", "impossible"})
_NEGATIONS = frozenset({"non", "nan", "pas", "ne", "n", "jamais", "impossible", "plus"})
_NO_PHRASES = (
    ("pas", "possible"), ("peux", "pas"), ("peut", "pas"), ("pourrai", "pas"), ("pourrais", "pas"),
    ("me", "va", "pas"), ("convient", "pas"), ("pas", "disponible"), ("pas", "dispo"), ("trop", "tot"),
    ("trop", "tard"), ("un", "autre"), ("une", "autre"), ("autre", "jour"), ("autre", "date"), ("autre", "heure"),
)  # fmt: skip

_CANCEL_STEMS = ("annul", "anul", "decommand", "desist")
_COMING = frozenset({"venir", "venire", "viendrai", "viendrais", "viens", "present", "presente", "rendez", "rdv"})
_CANNOT = frozenset(
    {"peux", "peut", "peu", "pourrai", "pourrais", "pourai", "pourais", "pourra", "poura", "pourrons", "viendrai",
     "viendrais", "viendrait", "serai", "sera", "serais"}
)  # fmt: skip

_SOMEONE_ELSE = frozenset(
    {"il", "elle", "ils", "elles", "fille", "fils", "mari", "femme", "epoux", "epouse", "voisin", "voisine", "mere",
     "pere", "frere", "soeur", "ami", "amie", "conseiller", "conseillere", "bus", "chauffeur", "taxi"}
)  # fmt: skip
_AWAY = frozenset({"empechement", "empeche", "empechee", "absent", "absente", "indisponible", "indispo"})
_APPOINTMENT = frozenset({"rdv", "rendezvous", "rendevous", "rendevou", "rendezvou", "rdz", "rv"})
_WANT = frozenset(
    {"voudrais", "voudrai", "voudrait", "veux", "veut", "souhaite", "souhaiterais", "souhaiterai", "besoin",
     "prendre", "avoir", "reserver", "obtenir", "fixer", "demande", "demander", "aimerais", "aimerai",
     "donner", "possible", "faut", "comment", "nouveau", "autre"}
)  # fmt: skip
_WHEN = frozenset({"quand", "quelle", "quel", "heure", "date", "jour", "rappeler", "rappelez", "rappel", "oublie", "oubliee"})

#: Answers to "Quel service ?" that mean "none in particular" (the list's last entry).
OTHER_SERVICE_PHRASES = (
    ("autre",), ("autre", "chose"), ("autre", "demande"), ("sais", "pas"), ("ne", "sais", "pas"), ("rien",),
    ("aucun",), ("aucune",), ("peu", "importe"), ("n", "importe"), ("divers",), ("pas", "dans", "la", "liste"),
)  # fmt: skip

#: What residents call the services, by catalogue code: a table in data, read once.
SYNONYMS_FILE = Path(__file__).with_name("service_synonyms.toml")


@cache
def service_synonyms() -> dict[str, tuple[str, ...]]:
    """The synonym table of ``service_synonyms.toml`` (code -> phrases), normalised as messages are."""
    with SYNONYMS_FILE.open("rb") as handle:
        table = tomllib.load(handle)["synonyms"]
    return {code: tuple(normalise(str(p)) for p in phrases) for code, phrases in table.items()}


# Label words that do not tell services apart ("Aide numérique", "Carte grise").
_WEAK_LABEL_WORDS = frozenset({"aide", "carte", "de", "des", "du", "la", "le", "les", "en", "et", "a", "d", "l", "ligne"})


def with_digits(words: Sequence[str]) -> list[str]:
    """Number words as digits ("neuf heures et demie" -> "9 heures et demie"), via text2num.

    "un"/"une" stay words (they are mostly articles: "un rdv"); `choice_number` reads
    them when they stand alone.
    """
    if not words:
        return []
    return alpha2digit(" ".join(words), "fr", threshold=0).split() if _has_number_word(words) else list(words)


def _has_number_word(words: Sequence[str]) -> bool:
    return any(w in _NUMBER_WORDS for w in words)


_NUMBER_WORDS = frozenset(
    {"deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze", "treize",
     "quatorze", "quinze", "seize", "vingt", "trente", "quarante", "cinquante"}
)  # fmt: skip


def split_elisions(words: Sequence[str]) -> list[str]:
    """ "cest bon" -> "c est bon", "jai" -> "j ai": apostrophes residents leave out; "c a f"
    (typed "C.A.F.") -> "caf"."""
    split = [part for word in words for part in _ELISIONS.get(word, (word,))]
    return join_initials(split)


def join_initials(words: Sequence[str]) -> list[str]:
    """Three or more single letters in a row are an acronym typed with dots: "c a f" -> "caf"."""
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        joined.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if word:
            joined.append(word)
    return joined


def strip_courtesy(words: Sequence[str]) -> list[str]:
    """The answer without the greetings and thanks around it (empty when it was only that)."""
    core = list(words)
    changed = True
    while changed and core:
        changed = False
        for phrase in _LEADING:
            if len(core) >= len(phrase) and tuple(core[: len(phrase)]) == phrase:
                core = core[len(phrase) :]
                changed = True
        for phrase in _TRAILING:
            if len(core) >= len(phrase) and tuple(core[-len(phrase) :]) == phrase:
                core = core[: -len(phrase)]
                changed = True
    return core


def thanks(words: Sequence[str]) -> bool:
    """Whether a message made only of courtesy thanks or takes leave ("merci beaucoup bonne journee")."""
    return any(w in ("merci", "revoir", "journee", "soiree", "bientot", "cordialement") for w in words)


def choice_number(words: Sequence[str]) -> int | None:
    """The number of a listed choice when the answer is only that: "le deuxieme", "numero 3", "un"."""
    numbers: list[int] = []
    digits = with_digits(words)
    for index, word in enumerate(digits):
        if word in ("un", "une") and index < len(digits) - 1:
            continue  # an article ("je voudrais un rdv"), not the first choice ("le un")
        if word.isdigit() and len(word) <= 2:
            numbers.append(int(word))
        elif word in _ORDINALS:
            numbers.append(_ORDINALS[word])
        elif word not in _AROUND_CHOICE:
            return None
    return numbers[0] if len(numbers) == 1 else None


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    span = len(phrase)
    return any(tuple(words[i : i + span]) == tuple(phrase) for i in range(len(words) - span + 1))


def _starts(words: Sequence[str], phrase: Sequence[str]) -> bool:
    return tuple(words[: len(phrase)]) == tuple(phrase)


def means_yes(words: Sequence[str]) -> bool:
    """A whole-sentence yes: "oui je veux bien", "ca me va tres bien", "c'est tres bien".

    It must start as a yes and hold no negation and no number (a "oui mais plutot le 3"
    is a choice, not a yes).
    """
    if not words or any(w in _NEGATIONS for w in words) or any(any(ch.isdigit() for ch in w) for w in words):
        return False
    if words[0] in _YES_WORDS or any(_starts(words, phrase) for phrase in _YES_PHRASES):
        return True
    # "c'est tres bien", "c'est super", "c est note"
    return _starts(words, ("c", "est")) and len(words) > 2 and words[2] in _APPROVING


_APPROVING = frozenset({"bon", "bien", "tres", "parfait", "ok", "super", "note", "entendu", "top", "impeccable", "nickel", "genial"})


def means_no(words: Sequence[str]) -> bool:
    """A whole-sentence no: "non c'est trop tot", "je ne peux pas a cette heure la"."""
    if not words or any(any(ch.isdigit() for ch in w) for w in words) or any(w in _YES_WORDS for w in words):
        return False
    return words[0] in _NO_WORDS or any(_contains(words, phrase) for phrase in _NO_PHRASES)


def mentions_cancel(words: Sequence[str]) -> bool:
    """The sentence asks to cancel ("je voudrais annuler mon rendez-vous de jeudi"), not the opposite
    ("je ne veux pas annuler")."""
    return any(w.startswith(_CANCEL_STEMS) for w in words) and not any(w in ("pas", "plus", "jamais") for w in words)


def cannot_come(words: Sequence[str]) -> bool:
    """ "je ne pourrai pas venir", "je ne peux plus venir", "je serai absente", "empechement".

    Never about someone else ("ma fille ne pourra pas venir me chercher").
    """
    if any(w in _SOMEONE_ELSE for w in words):
        return False
    if any(w in _AWAY for w in words) and not any(w in ("pas", "plus", "jamais") for w in words):
        return True
    if _contains(words, ("serai", "pas", "la")) or _contains(words, ("serais", "pas", "la")):
        return True
    negation = next((i for i, w in enumerate(words) if w in ("pas", "plus")), None)
    if negation is None:
        return False
    before, after = words[:negation], words[negation + 1 :]
    return (any(w in _CANNOT for w in before) and any(w in _COMING for w in after)) or "viendrai" in before


def _mentions_appointment(words: Sequence[str]) -> bool:
    joined = " ".join(words)
    return any(w in _APPOINTMENT for w in words) or "rendez vous" in joined or "rende vous" in joined or "rendez vou" in joined


def asks_my_bookings(words: Sequence[str]) -> bool:
    """ "c'est quand mon rendez-vous ?", "j'ai oublie l'heure de mon rdv", "c'est a quelle heure deja ?"."""
    if any(w in _WANT for w in words):
        return False
    if "deja" in words and any(_contains(words, p) for p in (("quelle", "heure"), ("quel", "jour"), ("quelle", "date"))):
        return True  # "deja": a date once given, so the appointment is implied
    if not _mentions_appointment(words):
        return False
    if any(w in _WHEN for w in words) or (len(words) <= 4 and any(w in ("mon", "mes") for w in words)):
        return True
    return _starts(words, ("j", "ai")) or _starts(words, ("ai", "je")) or _starts(words, ("est", "ce", "que", "j", "ai"))


def wants_booking(words: Sequence[str]) -> bool:
    """ "je voudrais un rendez-vous", "comment on fait pour avoir un rdv"."""
    return _mentions_appointment(words) and (any(w in _WANT for w in words) or words[0] in ("rdv", "rendez", "rendezvous"))


def service_words(code: str | None, label: str) -> tuple[str, ...]:
    """The words and phrases that name one service: its label's distinctive words and what residents call it."""
    own = tuple(w for w in normalise(label).split() if w not in _WEAK_LABEL_WORDS and len(w) >= 3)
    return own + service_synonyms().get(code or "", ())


def names_phrase(words: Sequence[str], phrase: str) -> bool:
    """Whether the answer names `phrase` (a word or several), typos and plurals allowed on long words."""
    wanted = phrase.split()
    if len(wanted) > 1:
        return _contains(words, wanted)
    target = wanted[0]
    for word in words:
        if word == target:
            return True
        if len(target) >= 4 and word.startswith(target) and word[len(target) :] in ("s", "x", "e"):
            return True  # "impots" for "impot", not "courses" for "cours"
        if len(word) >= 5 and target.startswith(word) and len(word) >= 0.6 * len(target):
            return True  # "allocat" for "allocations", not "passe" for "passeport"
        if len(word) >= 5 and len(target) >= 5 and fuzz.ratio(word, target) >= 85:
            return True
    return False
