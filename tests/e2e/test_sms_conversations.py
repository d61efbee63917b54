"""Golden SMS conversations, in French, through the real HTTP endpoint with signed requests.

Each transcript is a list of (what the resident sends, a fragment of what they
then read). What they read is the TwiML reply plus any SMS queued for them at
that moment (the booking confirmation and the cancellation acknowledgement go
through the outbox, not TwiML). ``NOTHING`` means no SMS at all; ``Silence(n)``
lets n minutes pass. Commune names arrive transliterated to GSM-7
("Châtel-Guyon" -> "Chatel-Guyon"), the template text keeps its é and à.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.storage import tables as t
from notifications.gsm import count_segments, is_gsm7
from notifications.ports import FixedClock
from tests.e2e.conftest import Resident
from tests.fixtures.valley import Valley

NOTHING = ""


@dataclass(frozen=True)
class Silence:
    """The resident does not answer for this many minutes."""

    minutes: int


Step = tuple[str, str] | Silence

ASK_COMMUNE = "Pour prendre RDV, répondez avec le nom de votre commune."
GUERET_OFFER = "Créneaux à Guéret :\n1) mar. 1er déc. 9h\n2) mar. 1er déc. 9h30\n3) mar. 1er déc. 10h\nRépondez 1, 2 ou 3"
EXPIRED = "Sans réponse de votre part, votre demande a été abandonnée."

HAPPY_PATH: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("Châtel-Guyon", "Quel service ?\n1) CAF\n2) Impots\n3) Aide numérique\n4) Autre demande\nRépondez par le numéro"),
    ("1", "Créneaux à Chatel-Guyon :\n1) jeu. 3 déc. 9h\n2) jeu. 3 déc. 9h30\n3) jeu. 3 déc. 10h\nRépondez 1, 2 ou 3"),
    ("2", "Confirmer le RDV CAF du jeu. 3 déc. à 9h30 à Chatel-Guyon ? Répondez OUI pour confirmer."),
    ("OUI", "RDV confirmé : CAF, jeu. 3 déc. à 9h30, Mairie de Chatel-Guyon, Chatel-Guyon.\n"
            "Apportez : numéro d'allocataire, RIB."),
    ("Merci !", "Merci à vous et bonne journée !"),  # a short friendly word, never a new booking
    ("merci encore", NOTHING),  # once is enough
    ("MES RDV", "Vos RDV :\n1) jeu. 3 déc. 9h30 Chatel-Guyon\nPour annuler, répondez ANNULER."),
]

TYPOS: list[Step] = [
    ("bonjour", ASK_COMMUNE),
    ("chatel guion", "Quel service ?"),
    ("0", "Créneaux à Chatel-Guyon :"),  # 0: no particular service
    ("3", "Confirmer le RDV d'accompagnement du jeu. 3 déc. à 10h à Chatel-Guyon ?"),
    ("oui", "RDV confirmé : accompagnement numérique, jeu. 3 déc. à 10h"),
    ("rdv", "Vous avez déjà un RDV le jeu. 3 déc. à 10h à Chatel-Guyon. Répondez ANNULER pour l'annuler ou RDV"),
    ("rdv", "Quel service ?"),  # another one: the commune is known now, straight to the question
    ("st leger la montagn", "Créneaux à Saint-Léger-la-Montagne :\n1) mer. 2 déc. 14h\n2) mer. 2 déc. 14h30"),
    ("le 1", "Confirmer le RDV d'accompagnement du mer. 2 déc. à 14h à Saint-Léger-la-Montagne ?"),
    ("Oui.", "RDV confirmé : accompagnement numérique, mer. 2 déc. à 14h"),
]

AMBIGUOUS_COMMUNE: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("saint leger", "Quelle commune ?\n1) Saint-Léger-la-Montagne\n2) Saint-Léger-le-Guérétois\nRépondez 1 ou 2"),
    ("3", "Désolé, nous n'avons pas compris votre réponse. Répondez 1 ou 2."),
    ("2", GUERET_OFFER),  # no stop at Saint-Léger-le-Guérétois: Guéret, 6 km away
    ("1", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h à Guéret ?"),
    ("OUI", "RDV confirmé : accompagnement numérique, mar. 1er déc. à 9h, Mairie de Guéret, Guéret."),
]

POSTCODE: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("23000", "Quelle commune ?\n1) Guéret\n2) Sainte-Feyre\n3) Saint-Léger-le-Guérétois\nRépondez 1, 2 ou 3"),  # by population
    ("ste feyre", GUERET_OFFER),  # typing the name instead of its number works too
    ("2", "à 9h30 à Guéret ?"),
    ("OUI", "RDV confirmé : accompagnement numérique, mar. 1er déc. à 9h30"),
]

NO_STOP_PLANNED: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("Crocq", "C'est noté : pas de passage prévu pour l'instant à Crocq. Nous vous préviendrons dès qu'un passage est prévu."),
    ("RDV", "pas de passage prévu pour l'instant à Crocq"),  # still none; still one waiting-list entry
    ("RDV saint sulpice les champs", "pas de passage prévu pour l'instant à Saint-Sulpice-les-Champs"),
]

CANCEL_ONE: list[Step] = [
    ("RDV Guéret", GUERET_OFFER),
    ("2", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h30 à Guéret ?"),
    ("OUI", "RDV confirmé"),
    ("ANNULER", "Votre RDV du mar. 1er déc. à 9h30 à Guéret est annulé. Pour reprendre RDV, envoyez RDV."),
    ("MES RDV", "Vous n'avez aucun RDV à venir. Pour prendre RDV, envoyez RDV."),
    ("ANNULER", "Vous n'avez aucun RDV à venir."),
]

CANCEL_ONE_OF_SEVERAL: list[Step] = [
    ("RDV Guéret", GUERET_OFFER),
    ("1", "Guéret ?"),
    ("OUI", "RDV confirmé"),
    ("RDV st leger la montagne", "Créneaux à Saint-Léger-la-Montagne"),
    ("2", "mer. 2 déc. à 14h30"),
    ("OUI", "RDV confirmé"),
    ("ANNULER", "Quel RDV annuler ?\n1) mar. 1er déc. 9h Guéret\n2) mer. 2 déc. 14h30 Saint-Léger-la-Montagne\nRépondez 1 ou 2"),
    ("2", "Votre RDV du mer. 2 déc. à 14h30 à Saint-Léger-la-Montagne est annulé."),
    ("ANNULER 1", "Votre RDV du mar. 1er déc. à 9h à Guéret est annulé."),
]

OPT_OUT: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("STOP", NOTHING),  # Twilio answers STOP itself and would block ours
    ("RDV", NOTHING),  # nothing at all to an opted-out number
    ("AIDE", NOTHING),
    ("START", "C'est noté : vous recevrez à nouveau nos SMS."),
    ("Arrêt", "C'est noté : vous ne recevrez plus nos SMS, ni les rappels de RDV. Pour les recevoir à nouveau, envoyez START."),
    ("ARRET", NOTHING),
    ("START", "vous recevrez à nouveau nos SMS"),
    ("RDV", ASK_COMMUNE),
]

EXPIRY: list[Step] = [
    ("RDV", ASK_COMMUNE),
    ("Guéret", GUERET_OFFER),
    Silence(29),
    ("1", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h à Guéret ?"),
    Silence(31),
    ("OUI", EXPIRED + " Pour prendre RDV, envoyez RDV."),  # and no booking
    ("MES RDV", "Vous n'avez aucun RDV à venir."),
    ("RDV", ASK_COMMUNE),
    Silence(45),
    ("Crocq", EXPIRED + " Pour prendre RDV, envoyez RDV.\nC'est noté : pas de passage prévu pour l'instant à Crocq."),
]

UNKNOWN_WORDS: list[Step] = [
    ("Bonjour je voudrais voir quelqu'un pour mes papiers", ASK_COMMUNE),
    ("euh", "Désolé, nous n'avons pas compris votre réponse. Répondez avec le nom de votre commune. Envoyez AIDE"),
    ("Guéret", GUERET_OFFER),
    ("demain ?", "Pas libre à ce moment-là. Au plus près, à Guéret :\n1) mar. 1er déc. 9h"),  # the nearest
    ("bof", "Désolé, nous n'avons pas compris votre réponse. Répondez 1, 2 ou 3."),
    ("AIDE", "Envoyez RDV pour prendre rendez-vous, MES RDV pour voir vos rendez-vous, ANNULER pour annuler"),
    ("3", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 10h à Guéret ?"),  # AIDE kept the dialogue
    ("YES", NOTHING),  # YES is Twilio's opt-in word, never ours: it leaves the dialogue where it was
    ("peut-être", "Répondez OUI."),
    ("NON", GUERET_OFFER),  # not this one: the offer again
    ("1", "à 9h à Guéret ?"),
    ("OUI", "RDV confirmé"),
]

# ----------------------------------------------------------------------------- issue 17, point by point

WHO_WRITES = "Ici le bus France Services (Pays de Guéret)"

# 1. Intents anywhere in the message, a stop request always winning.
STOP_IN_A_SENTENCE: list[Step] = [
    ("bonjour je voudrais un rdv a gueret", "Créneaux à Guéret"),
    ("le premier", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h à Guéret ?"),
    ("non en fait arretez de m'envoyer des messages", "C'est noté : vous ne recevrez plus nos SMS"),  # once
    ("je ne veux plus de sms", NOTHING),  # acknowledged once; after an opt-out, silence
    ("rdv", NOTHING),
    ("START", "vous recevrez à nouveau nos SMS"),
    ("je voudrais annuler mon rendez-vous", "Vous n'avez aucun RDV à venir."),  # cancel, read in a sentence
]

# 2. Services by what people call them; commune and service in one message.
SERVICE_IN_THEIR_WORDS: list[Step] = [
    ("Bonjour, je voudrais un rendez-vous a Chatel Guyon pour ma declaration d'impots", "Créneaux à Chatel-Guyon :\n1) jeu. 3 déc. 9h"),
    ("le deuxieme", "Confirmer le RDV Impots du jeu. 3 déc. à 9h30 à Chatel-Guyon ?"),
    ("oui", "RDV confirmé : Impots"),
    ("rdv", "Vous avez déjà un RDV"),
    ("RDV", "Quel service ?"),
    ("carte vitale", "Désolé, Ameli n'est pas proposé aux prochains passages près de chez vous."),
    ("c'est pour les allocs", "Créneaux à Chatel-Guyon"),  # CAF
]

# The service said before the commune is not asked again once the commune comes.
SERVICE_BEFORE_COMMUNE: list[Step] = [
    ("bonjour je voudrais un rendez vous pour ma declaration d'impots", "répondez avec le nom de votre commune"),
    ("chatel guyon", "Créneaux à Chatel-Guyon :\n1) jeu. 3 déc. 9h"),
    ("c'est ou deja ?", "Chatel-Guyon"),  # answered, and the slots still stand
    ("le deuxieme", "Confirmer le RDV Impots du jeu. 3 déc. à 9h30 à Chatel-Guyon ?"),
]

# ... also when the first message has no booking word at all.
SERVICE_BEFORE_COMMUNE_WITHOUT_RDV: list[Step] = [
    ("Bonjour c est pour les impots", "répondez avec le nom de votre commune"),
    ("chatel guyon", "Créneaux à Chatel-Guyon :\n1) jeu. 3 déc. 9h"),
]

# 3. Slots by day, time, part of day or ordinal; the nearest when none fits.
SLOT_IN_THEIR_WORDS: list[Step] = [
    ("RDV Guéret", GUERET_OFFER),
    ("plutot mercredi", "Pas libre à ce moment-là. Au plus près, à Guéret :\n1) mar. 1er déc. 9h"),
    ("celui de 10h", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 10h à Guéret ?"),
    ("non plutot le plus tot possible", "à 9h à Guéret ?"),
    ("ok", "RDV confirmé : accompagnement numérique, mar. 1er déc. à 9h"),
]

# 4. Answers to questions about a booking, never cut.
QUESTIONS: list[Step] = [
    ("RDV Chatel-Guyon", "Quel service ?"),
    ("caf", "Créneaux à Chatel-Guyon"),
    ("1", "Confirmer le RDV CAF"),
    ("OUI", "Apportez : numéro d'allocataire, RIB."),
    ("c'est ou ?", "Votre RDV du jeu. 3 déc. à 9h : Mairie de Chatel-Guyon, Chatel-Guyon."),
    ("quels papiers je dois amener ?", "Pour votre RDV du jeu. 3 déc., apportez : numéro d'allocataire, RIB."),
    ("c'est a quelle heure deja ?", "Vos RDV :\n1) jeu. 3 déc. 9h Chatel-Guyon"),
    ("ANNULER", "Votre RDV du jeu. 3 déc. à 9h à Chatel-Guyon est annulé."),
    ("c'est ou le bus ?",  # no booking now: the next stop near where they live
     "Pas de RDV à votre nom. Prochain passage : jeu. 3 déc. dès 9h, Mairie de Chatel-Guyon, Chatel-Guyon."),
]

# 5. Existing bookings first; a thank-you gets a short friendly reply.
EXISTING_FIRST: list[Step] = [
    ("RDV Guéret", GUERET_OFFER),
    ("1", "Guéret ?"),
    ("OUI", "RDV confirmé"),
    ("merci bonne journee", "Merci à vous et bonne journée !"),
    ("bonjour je voudrais un rendez vous",
     "Vous avez déjà un RDV le mar. 1er déc. à 9h à Guéret. Répondez ANNULER pour l'annuler ou RDV pour un autre."),
    ("RDV", "Créneaux à Guéret :\n1) mar. 1er déc. 9h30"),  # another one, on purpose
]

# 6. Twilio keywords: YES/START from someone who never opted out leave the dialogue alone.
TWILIO_KEYWORDS: list[Step] = [
    ("RDV Guéret", GUERET_OFFER),
    ("2", "Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h30 à Guéret ?"),
    ("yes", NOTHING),  # Twilio's opt-in word: Twilio answers it; the question still stands
    ("START", "vous recevrez à nouveau nos SMS"),
    ("OUI", "RDV confirmé : accompagnement numérique, mar. 1er déc. à 9h30"),  # not lost
    ("stop svp", "C'est noté : vous ne recevrez plus nos SMS"),
    ("aide", NOTHING),  # after an opt-out only START / ARRET-like words
]

# 7. Who we are, on a first contact; a postcode alone by population.
WHO_WE_ARE: list[Step] = [
    ("c'est qui ?", WHO_WRITES + " : des conseillers pour vos démarches, près de chez vous. Pour prendre RDV, envoyez RDV."),
    ("mauvais numero", WHO_WRITES),
]
FIRST_CONTACT: list[Step] = [
    ("23000", "Quelle commune ?\n1) Guéret\n2) Sainte-Feyre\n3) Saint-Léger-le-Guérétois"),  # most residents first
    ("1", GUERET_OFFER),
]

TRANSCRIPTS = {
    "happy_path": HAPPY_PATH,
    "typos": TYPOS,
    "ambiguous_commune": AMBIGUOUS_COMMUNE,
    "postcode": POSTCODE,
    "no_stop_planned": NO_STOP_PLANNED,
    "cancel_one": CANCEL_ONE,
    "cancel_one_of_several": CANCEL_ONE_OF_SEVERAL,
    "opt_out": OPT_OUT,
    "expiry": EXPIRY,
    "unknown_words": UNKNOWN_WORDS,
    "stop_in_a_sentence": STOP_IN_A_SENTENCE,
    "service_in_their_words": SERVICE_IN_THEIR_WORDS,
    "service_before_commune": SERVICE_BEFORE_COMMUNE,
    "service_before_commune_without_rdv": SERVICE_BEFORE_COMMUNE_WITHOUT_RDV,
    "slot_in_their_words": SLOT_IN_THEIR_WORDS,
    "questions": QUESTIONS,
    "existing_first": EXISTING_FIRST,
    "twilio_keywords": TWILIO_KEYWORDS,
    "who_we_are": WHO_WE_ARE,
    "first_contact_postcode": FIRST_CONTACT,
}


def play(resident: Resident, clock: FixedClock, transcript: list[Step]) -> None:
    for number, step in enumerate(transcript, start=1):
        if isinstance(step, Silence):
            clock.advance(minutes=step.minutes)
            continue
        says, expected = step
        read = resident.says(says)
        text = "\n".join(read)
        context = f"step {number}: resident sent {says!r} and read {read!r}"
        if expected == NOTHING:
            assert read == [], context
        else:
            assert expected in text, context
        for sms in read:
            assert is_gsm7(sms), context
            if not sms.startswith("RDV confirmé"):  # the only two-segment template
                assert count_segments(sms).segments == 1, context


@pytest.mark.parametrize("name", list(TRANSCRIPTS))
def test_golden_conversation(name: str, resident: Resident, clock: FixedClock) -> None:
    play(resident, clock, TRANSCRIPTS[name])


def test_the_confirmation_links_to_the_booking_page_on_the_public_url(
    resident: Resident, clock: FixedClock, engine: Engine
) -> None:
    play(resident, clock, HAPPY_PATH[:4])
    read = resident.says("OUI")
    assert len(read) == 1, "one SMS: the confirmation from the outbox, no TwiML reply besides"
    with Session(engine) as session:
        booking = session.exec(select(t.Booking)).one()
    assert f"https://rdv.example.fr/r/{booking.token}" in read[0]
    assert read[0].endswith("Pour annuler, répondez ANNULER.")


def test_an_expired_confirmation_books_nothing(resident: Resident, clock: FixedClock, engine: Engine) -> None:
    play(resident, clock, EXPIRY[:6])
    with Session(engine) as session:
        assert session.exec(select(t.Booking)).all() == []


def test_a_slot_taken_between_offer_and_oui_is_not_double_booked(
    resident: Resident, clock: FixedClock, engine: Engine, valley: Valley
) -> None:
    neighbour = Resident(resident.twilio, clock, "+33698765432")
    play(resident, clock, [("RDV Guéret", GUERET_OFFER), ("1", "à 9h à Guéret ?")])
    play(neighbour, clock, [("RDV Guéret", GUERET_OFFER), ("1", "à 9h à Guéret ?"), ("OUI", "RDV confirmé")])
    play(
        resident,
        clock,
        [
            ("OUI", "Désolé, ce créneau a été réservé entre-temps. Envoyez RDV pour voir les créneaux encore libres."),
            ("RDV Guéret", "Créneaux à Guéret :\n1) mar. 1er déc. 9h30\n2) mar. 1er déc. 10h\nRépondez 1 ou 2"),
        ],
    )
    with Session(engine) as session:
        bookings = session.exec(select(t.Booking).where(t.Booking.slot_id == valley.slots["Guéret"][0])).all()
    assert len(bookings) == 1


def test_no_stop_planned_puts_the_resident_on_the_waiting_list_once(
    resident: Resident, clock: FixedClock, engine: Engine, valley: Valley
) -> None:
    play(resident, clock, NO_STOP_PLANNED[:3])
    with Session(engine) as session:
        entries = session.exec(select(t.WaitlistEntry)).all()
    assert [(e.commune_id, e.status) for e in entries] == [(valley.communes["Crocq"], "open")]


def test_stop_and_arret_are_mirrored_in_the_resident_table(resident: Resident, clock: FixedClock, engine: Engine) -> None:
    def opted_out() -> bool:
        with Session(engine) as session:
            return session.exec(select(t.Resident).where(t.Resident.phone == resident.number)).one().opted_out

    play(resident, clock, [("STOP", NOTHING)])
    assert opted_out()
    play(resident, clock, [("START", "vous recevrez à nouveau nos SMS")])
    assert not opted_out()
    play(resident, clock, [("arret", "vous ne recevrez plus nos SMS")])
    assert opted_out()


def test_a_commune_named_while_choosing_a_time_is_a_commune_not_a_mistyped_day(
    resident: Resident, clock: FixedClock, engine: Engine
) -> None:
    """« sainte marie » once read as « mardi » (one letter off) and offered Tuesdays elsewhere."""
    with Session(engine) as session:
        territory_id = session.exec(select(t.Territory.id)).one()
        session.add(t.Commune(territory_id=territory_id, insee_code="23999", name="Sainte-Marie", postcodes=["23200"],
                              population=300, latitude=46.6, longitude=2.6))  # fmt: skip  # far from every stop
        session.commit()
    play(resident, clock, HAPPY_PATH[:3])  # slots of Châtel-Guyon, on Thursday, are offered
    read = "\n".join(resident.says("sainte marie"))
    assert "Sainte-Marie" in read
    assert "mar." not in read and "Créneaux" not in read, read


def test_a_day_written_out_with_a_commune_is_still_a_wish_about_the_day(resident: Resident, clock: FixedClock) -> None:
    play(resident, clock, HAPPY_PATH[:3])  # Thursday slots at Châtel-Guyon
    read = "\n".join(resident.says("plutot mardi a crocq"))
    assert read.startswith("Pas libre à ce moment-là"), read  # no Tuesday near: the nearest offered
