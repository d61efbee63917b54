"""What an inbound SMS asks for, read from its text alone: pure, no database, no state.

The dialogue (``mobile_services.conversation``) keeps the state machine; this module only
says what a message means before looking at the state: a keyword, a number, a question,
or free text the state will read (a commune, a service, a day). Residents rarely send
bare keywords, so requests are looked for anywhere in a sentence, with typos, and when a
message holds several the priorities are, from first to last:

1. stop messages (« stop svp », « arretez de m'envoyer des messages », « je ne veux plus
   de sms »): a stop request always wins, whatever else the message says;
2. Twilio's own opt-in words (START, YES, UNSTOP);
3. cancel, then « je ne pourrai pas venir »;
4. who are you (« c'est qui ? », « mauvais numero »), help (« j'ai besoin d'aide »);
5. questions about a booking: where, what to bring, when (« c'est ou ? », « quels papiers
   je dois amener ? », « c'est a quelle heure deja ? »);
6. everything else: choices, yes / no, thanks, booking requests, free text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from mobile_services import sms_phrasing as phrasing
from mobile_services.commune_matching import normalise
from mobile_services.slot_wishes import names_day_or_time

__all__ = ["Intent", "IntentKind", "parse_intent"]



class IntentKind(StrEnum):
    OPT_OUT = "opt_out"  # ARRET: we acknowledge
    OPT_OUT_SILENT = "opt_out_silent"  # STOP & co: Twilio acknowledges and blocks our reply
    OPT_IN = "opt_in"  # START: we acknowledge
    OPT_IN_SILENT = "opt_in_silent"  # YES, UNSTOP: Twilio's opt-in words, mirrored only, never "OUI"
    HELP = "help"
    MY_BOOKINGS = "my_bookings"
    CANCEL = "cancel"
    BOOK = "book"
    YES = "yes"
    NO = "no"
    THANKS = "thanks"
    NUMBER = "number"
    CANT_COME = "cant_come"  # "je ne pourrai pas venir": a no to the slot asked about, else ANNULER
    WHO = "who"  # "c'est qui ?", "mauvais numero": who we are
    WHERE = "where"  # "c'est ou ?": the place of their booking
    BRING = "bring"  # "quels papiers je dois amener ?": the documents for their booking
    TEXT = "text"


@dataclass(frozen=True)
class Intent:
    """What a message means before looking at the state: a keyword, a number or free text."""

    kind: IntentKind
    number: int | None = None
    text: str = ""


_TWILIO_STOP = frozenset(
    {"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "revoke"}
)
_FRENCH_STOP = frozenset({"arret", "arreter", "arretez", "arret sms", "stop sms"})
_TWILIO_START_SILENT = frozenset({"yes", "unstop"})
_START = frozenset({"start"})
_HELP = frozenset({"aide", "help", "info", "aidez moi", "menu"})
_MY_BOOKINGS = frozenset(
    {"mes rdv", "mesrdv", "mes rdvs", "mon rdv", "mes rendez vous", "mes rendezvous", "mon rendez vous"}
)
_CANCEL_WORDS = frozenset({"annuler", "annule", "annulez", "annulation", "annul"})
_BOOK = frozenset(
    {"rdv", "rendez vous", "rendezvous", "rv", "bonjour", "bonsoir", "salut", "hello", "coucou", "allo",
     "prendre rdv", "prendre rendez vous", "un rdv", "nouveau rdv", "rdv svp", "reserver", "reservation"}
)  # fmt: skip
_YES = frozenset(
    {"oui", "o", "ouais", "oui oui", "oui svp", "oui s il vous plait", "ok", "okay", "d accord", "daccord",
     "oui merci", "ok merci", "je confirme", "confirme", "confirmer", "entendu", "parfait", "super",
     "super merci", "tres bien", "top", "genial", "c est note", "parfait merci"}
)  # fmt: skip
_NO = frozenset({"non", "n", "non merci", "pas possible", "aucun"})
# Approvals ("parfait", "entendu") are in _YES: after "Confirmer le RDV ... ?" they mean yes,
# and when nothing is asked a yes, like thanks, gets no reply.
_THANKS = frozenset(
    {"merci", "merci beaucoup", "merci bien", "au revoir", "bonne journee", "bonne soiree", "cool", "a bientot",
     "bien recu"}
)  # fmt: skip
# Thumbs up and ticks, with the variation selector and skin tones phones add to them.
_APPROVING_EMOJI = frozenset("👍👌✅🆗✔☑🙂😊\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
_NUMBER = re.compile(r"^(?:le |la |n |no |num |numero |choix |option )?(\d{1,2})$")
_BOOK_PREFIXES = (("rdv",), ("rendezvous",), ("rendez", "vous"), ("rdv", "a"), ("rendez", "vous", "a"))


def parse_intent(body: str) -> Intent:
    """Read a message the way a counter agent would: case, accents and punctuation ignored."""
    raw = body.strip()
    if raw == "?":
        return Intent(IntentKind.HELP)
    if raw and all(ch in _APPROVING_EMOJI or ch.isspace() for ch in raw):
        return Intent(IntentKind.YES)  # a thumbs up to "Confirmer le RDV ... ?"
    words = normalise(raw).split()
    key = " ".join(words)
    if key in _TWILIO_STOP and _bare(raw) in _TWILIO_STOP:
        # Exactly Twilio's word: Twilio answers it and blocks ours. "stop 🙏" or "Stop."
        # may not be Twilio's match: acknowledged as ARRET (a reply Twilio blocks is harmless).
        return Intent(IntentKind.OPT_OUT_SILENT)
    if key in _TWILIO_STOP:
        return Intent(IntentKind.OPT_OUT)
    if key in _FRENCH_STOP or asks_to_stop(phrasing.split_elisions(words)):
        return Intent(IntentKind.OPT_OUT)
    if key in _START:
        return Intent(IntentKind.OPT_IN)
    if key in _WHO:
        return Intent(IntentKind.WHO)
    if key in _TWILIO_START_SILENT:
        return Intent(IntentKind.OPT_IN_SILENT, text=raw)
    if key in _HELP:
        return Intent(IntentKind.HELP)
    if key in _MY_BOOKINGS:
        return Intent(IntentKind.MY_BOOKINGS)
    if words and words[0] in _CANCEL_WORDS:
        numbers = [int(w) for w in words[1:] if w.isdigit() and len(w) <= 2]
        return Intent(IntentKind.CANCEL, number=numbers[0] if len(numbers) == 1 else None)
    if key in _BOOK:
        return Intent(IntentKind.BOOK)
    for prefix in sorted(_BOOK_PREFIXES, key=len, reverse=True):
        if len(words) > len(prefix) and tuple(words[: len(prefix)]) == prefix:
            return Intent(IntentKind.BOOK, text=" ".join(words[len(prefix) :]))
    if key in _YES:
        return Intent(IntentKind.YES)
    if key in _NO:
        return Intent(IntentKind.NO)
    if key in _THANKS:
        return Intent(IntentKind.THANKS)
    number = _NUMBER.match(key)
    if number:
        return Intent(IntentKind.NUMBER, number=int(number.group(1)))
    return _sentence_intent(words, raw)


def _sentence_intent(words: list[str], raw: str) -> Intent:
    """Whole sentences, once the keywords did not match: "oui je veux bien merci madame".

    Opt-out words keep their exact-match rule above (Twilio's own), except that "stop
    merci", which Twilio does not read as STOP, is honoured and acknowledged like ARRET.
    """
    core = phrasing.strip_courtesy(phrasing.split_elisions(words))
    key = " ".join(core)
    if not core:
        # Only courtesy: thanks ("merci beaucoup bonne journee") end a dialogue without
        # a reply; a bare greeting ("bonjour madame") starts one.
        return Intent(IntentKind.THANKS) if phrasing.thanks(words) else Intent(IntentKind.TEXT, text=raw)
    if key in _TWILIO_STOP or key in _FRENCH_STOP:
        return Intent(IntentKind.OPT_OUT)
    for keywords, kind in ((_HELP, IntentKind.HELP), (_MY_BOOKINGS, IntentKind.MY_BOOKINGS), (_BOOK, IntentKind.BOOK),
                           (_YES, IntentKind.YES), (_NO, IntentKind.NO), (_THANKS, IntentKind.THANKS)):  # fmt: skip
        if key in keywords:
            return Intent(kind)
    if phrasing.mentions_cancel(core):
        numbers = [int(w) for w in core if w.isdigit() and len(w) <= 2]
        return Intent(IntentKind.CANCEL, number=numbers[0] if len(numbers) == 1 else None)
    if phrasing.cannot_come(core):
        return Intent(IntentKind.CANT_COME)
    question = _question(core)
    if question is not None:
        return Intent(question, text=raw)  # re-read as free text when there is no booking to answer about
    if phrasing.asks_my_bookings(core):
        return Intent(IntentKind.MY_BOOKINGS)
    choice = phrasing.choice_number(core)
    if choice is not None:
        return Intent(IntentKind.NUMBER, number=choice)
    if names_day_or_time(raw):
        return Intent(IntentKind.TEXT, text=raw)  # "non je prefere le matin": a wish, not a bare no
    if phrasing.means_yes(core):
        return Intent(IntentKind.YES)
    if phrasing.wants_booking(core) and core[0] not in ("non", "nan", "nn"):
        return Intent(IntentKind.BOOK, text=key)  # "je voudrais un autre rendez vous": not a no
    if phrasing.means_no(core):
        return Intent(IntentKind.NO)
    if core[0] == "merci":  # "merci pour tout", "merci de votre gentillesse"
        return Intent(IntentKind.THANKS)
    return Intent(IntentKind.TEXT, text=raw)




# --------------------------------------------------------------------------- stop, who, help, questions

#: Words naming our messages: "arretez de m'envoyer des messages", "plus de sms".
_MESSAGES = frozenset(
    {"sms", "message", "messages", "texto", "textos", "msg", "notification", "notifications", "rappel", "rappels",
     "envoyer", "envoyez", "envoi", "ecrire", "ecrivez", "recevoir", "harceler", "harcelez", "contacter", "contactez"}
)  # fmt: skip
_STOP_VERBS = frozenset({"arret", "arrete", "arreter", "arretez", "arretes", "cessez", "cesser", "stoppez", "stopper"})
_UNSUBSCRIBE_STEMS = ("desinscri", "desabonn", "desincri")


def asks_to_stop(words: Sequence[str]) -> bool:
    """A stop request anywhere in the sentence: "stop svp", "je ne veux plus de sms",
    "arretez de m'envoyer des messages", "desinscrivez moi".

    "stop" is always one (the resident used the word every SMS footer teaches); "arret"
    and its forms only with a word about our messages, since "l'arret du bus" is a place;
    a negation ("ne ... plus") only with such a word too: "je ne veux plus de sms" stops,
    "je ne veux plus de rdv" does not.
    """
    if not words:
        return False
    if any(w in ("stop", "stopp", "stopall") for w in words):
        return True
    if any(w.startswith(_UNSUBSCRIBE_STEMS) for w in words):
        return True
    mentions_messages = any(w in _MESSAGES for w in words)
    if any(w in _STOP_VERBS for w in words) and (mentions_messages or len(words) <= 2):
        return True
    if mentions_messages and any(w in ("plus", "jamais") for w in words) and not phrasing.cannot_come(list(words)):
        return not any(w in ("rdv", "rendez", "rendezvous", "creneau", "annuler") for w in words)
    return False


_WHO = frozenset(
    {"qui", "qui est ce", "c est qui", "cest qui", "qui etes vous", "vous etes qui", "qui c est", "mauvais numero",
     "c quoi", "c est quoi", "qui est la", "qui ecrit"}
)  # fmt: skip
_WHO_PHRASES = (
    ("c", "est", "qui"), ("qui", "etes", "vous"), ("vous", "etes", "qui"), ("qui", "est", "ce"), ("mauvais", "numero"),
    ("erreur", "de", "numero"), ("faux", "numero"), ("trompe", "de", "numero"), ("trompez", "de", "numero"),
    ("qui", "m", "ecrit"), ("qui", "me", "contacte"), ("c", "est", "quoi", "ce", "numero"), ("quel", "est", "ce", "numero"),
    ("c", "quoi", "ce", "numero"), ("je", "ne", "vous", "connais", "pas"), ("je", "vous", "connais", "pas"),
    ("qui", "c", "est"), ("c", "qui"), ("vous", "etes", "quoi"), ("c", "est", "quoi", "ce", "service"),
)  # fmt: skip
_HELP_WORDS = frozenset({"aide", "aider", "aidez", "help", "sos"})
# Words around a call for help that add nothing to it: "j'ai besoin d'aide", "aidez moi svp";
# any other word ("aide numerique", "aide avec internet") is something else (a service).
_HELP_FILLERS = frozenset(
    {"j", "ai", "je", "besoin", "d", "de", "un", "peu", "votre", "vous", "moi", "m", "me", "pouvez", "pourriez",
     "voudrais", "veux", "a", "l", "svp", "stp", "please", "au", "secours", "urgent"}
)  # fmt: skip
_HELP_PHRASES = (
    ("comment", "ca", "marche"), ("comment", "sa", "marche"), ("comment", "ca", "fonctionne"), ("comment", "faire"),
    ("je", "comprends", "pas"), ("je", "ne", "comprends", "pas"), ("comprends", "rien"), ("j", "ai", "pas", "compris"),
    ("je", "n", "ai", "pas", "compris"), ("comment", "on", "fait"), ("je", "sais", "pas", "faire"),
    ("quoi", "repondre"), ("que", "dois", "je", "repondre"), ("comprend", "pas"), ("comprend", "rien"),
)  # fmt: skip
_WHERE_PHRASES = (
    ("c", "est", "ou"), ("c", "ou"), ("ou", "est"), ("ou", "se"), ("ou", "ca"), ("ou", "sera"), ("ou", "il"),
    ("ou", "ce", "trouve"), ("ou", "exactement"), ("ou", "donc"), ("ou", "etes"), ("ou", "sa"), ("ou", "va"),
    ("ou", "aller"), ("ou", "dois", "je"), ("ou", "je", "dois"), ("ou", "faut"),
    ("quel", "endroit"), ("quelle", "adresse"), ("l", "adresse"), ("quel", "lieu"), ("a", "quel", "endroit"),
)  # fmt: skip
_BRING_STEMS = ("papier", "document", "apport", "amene", "amener", "ramene", "ramener", "emmene", "emmener",
                "justificati", "piece")  # fmt: skip
_BRING_PHRASES = (("prendre", "avec", "moi"), ("quoi", "prendre"), ("faut", "il", "prendre"), ("dois", "je", "prendre"))


def _question(words: Sequence[str]) -> IntentKind | None:
    """Who we are, help, where and what to bring, read anywhere in a sentence (see priorities above)."""
    if any(_contains(words, p) for p in _WHO_PHRASES):
        return IntentKind.WHO
    if len(words) <= 8 and not any(w in ("rdv", "rendez", "rendezvous", "pour") for w in words) and (
        (any(w in _HELP_WORDS for w in words) and all(w in _HELP_WORDS or w in _HELP_FILLERS for w in words))
        or any(_contains(words, p) for p in _HELP_PHRASES)
    ):
        return IntentKind.HELP
    if "adresse" in words or any(_contains(words, p) for p in _WHERE_PHRASES) or (words and words[-1] == "ou"):
        return IntentKind.WHERE
    if any(w.startswith(_BRING_STEMS) for w in words) or any(_contains(words, p) for p in _BRING_PHRASES):
        return IntentKind.BRING
    return None


def _bare(raw: str) -> str:
    """The message as Twilio compares it with its keywords: trimmed, case and punctuation ignored."""
    return " ".join(re.sub(r"[.!?,;:'\"()-]+", " ", raw).split()).casefold()


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    span = len(phrase)
    return any(tuple(words[i : i + span]) == tuple(phrase) for i in range(len(words) - span + 1))
