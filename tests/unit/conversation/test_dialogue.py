"""The dialogue through the message bus (no HTTP): states, expiry, services, bookings, events."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mobile_services.conversation import State
from mobile_services.storage import tables as t
from notifications.gsm import count_segments
from notifications.ports import FixedClock
from tests.unit.conversation.conftest import NEIGHBOUR, RESIDENT, SERVICE_NUMBER, Chat
from tests.fixtures.valley import NOW, Valley

GUERET_OFFER = "Créneaux à Guéret :\n1) mar. 1er déc. 9h\n2) mar. 1er déc. 9h30\n3) mar. 1er déc. 10h\nRépondez 1, 2 ou 3"


def conversation(engine: Engine, phone: str = RESIDENT) -> t.Conversation:
    with Session(engine) as session:
        return session.exec(select(t.Conversation).where(t.Conversation.phone == phone)).one()


def bookings(engine: Engine) -> list[t.Booking]:
    with Session(engine) as session:
        return list(session.exec(select(t.Booking).order_by(t.Booking.id)).all())  # type: ignore[arg-type]


def journal(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [e.name for e in session.exec(select(t.EventLog).order_by(t.EventLog.id))]  # type: ignore[arg-type]


def test_a_dialogue_waits_thirty_minutes_and_idle_never_expires(chat: Chat, engine: Engine) -> None:
    chat("RDV")
    row = conversation(engine)
    assert (row.state, row.expires_at) == (State.AWAITING_COMMUNE, NOW + timedelta(minutes=30))
    chat("Crocq")  # waiting list: the dialogue is over
    row = conversation(engine)
    assert (row.state, row.expires_at, row.context) == (State.IDLE, None, {})


def test_expiry_starts_exactly_at_the_timeout(chat: Chat, clock: FixedClock) -> None:
    chat("RDV Guéret")
    clock.advance(minutes=30)
    assert chat("1").messages == (
        "Sans réponse de votre part, votre demande a été abandonnée. Pour prendre RDV, envoyez RDV.",
    )


def test_aide_keeps_the_dialogue_and_its_place(chat: Chat, engine: Engine, clock: FixedClock) -> None:
    chat("RDV Guéret")
    clock.advance(minutes=20)
    assert chat("AIDE").messages[0].startswith("Envoyez RDV pour prendre rendez-vous")
    clock.advance(minutes=20)  # 40 minutes after the offer, 20 after AIDE
    assert chat("2").messages[0].startswith("Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h30")


def test_the_service_question_appears_only_where_crews_offer_a_choice(chat: Chat) -> None:
    assert chat("RDV Guéret").messages[0] == GUERET_OFFER  # generalist crew: nothing to choose
    assert chat("RDV Châtel-Guyon").messages[0].startswith("Quel service ?\n1) CAF\n2) Impots")


def test_a_service_chosen_by_name_is_recorded_on_the_booking(chat: Chat, engine: Engine, valley: Valley) -> None:
    chat("RDV Châtel-Guyon")
    assert chat("caf").messages[0].startswith("Créneaux à Chatel-Guyon")
    assert chat("1").messages[0].startswith("Confirmer le RDV CAF du jeu. 3 déc. à 9h")
    assert chat("OUI").messages == ()
    assert [b.service_id for b in bookings(engine)] == [valley.services["caf"]]


@pytest.mark.parametrize("answer", ["0", "4"])  # 4) Autre demande
def test_no_particular_service_books_a_general_appointment(chat: Chat, engine: Engine, answer: str) -> None:
    chat("RDV Châtel-Guyon")
    assert chat(answer).messages[0].startswith("Créneaux à Chatel-Guyon")
    chat("1")
    chat("OUI")
    assert [b.service_id for b in bookings(engine)] == [None]


def test_a_long_service_list_is_cut_to_fit_one_sms(chat: Chat, engine: Engine) -> None:
    with Session(engine) as session:
        for number in range(10):
            session.add(t.Service(code=f"long{number}", label="Long", short_label=f"Démarche longue n°{number}"))
        session.commit()
    question = chat("RDV Guéret").messages[0]
    assert question.startswith("Quel service ?") and question.count(")") <= 9
    assert count_segments(question).segments == 1
    assert "Autre demande" in question


def test_a_commune_named_mid_dialogue_starts_over_there(chat: Chat, engine: Engine) -> None:
    chat("RDV Guéret")
    reply = chat("Crocq").messages
    assert reply[0].startswith("C'est noté : pas de passage prévu pour l'instant à Crocq")
    assert journal(engine) == ["JoinedWaitlist"]


def test_a_known_resident_is_offered_their_commune_straight_away(chat: Chat) -> None:
    chat("RDV Sainte-Feyre")
    chat("1")
    chat("OUI")
    assert chat("RDV").messages[0].startswith("Vous avez déjà un RDV le mar. 1er déc. à 9h à Guéret.")
    assert chat("RDV").messages == (  # "RDV pour un autre", as the reply says
        "Créneaux à Guéret :\n1) mar. 1er déc. 9h30\n2) mar. 1er déc. 10h\nRépondez 1 ou 2",
    )


def test_one_booking_per_stop(chat: Chat, engine: Engine) -> None:
    chat("RDV Guéret")
    chat("1")
    chat("OUI")
    chat("RDV Guéret")
    chat("1")
    assert chat("OUI").messages == (
        "Vous avez déjà un RDV lors de ce passage. Envoyez MES RDV pour le voir ou ANNULER pour l'annuler.",
    )
    assert len(bookings(engine)) == 1


def test_a_slot_booked_by_someone_else_meanwhile_is_said_so(chat: Chat, engine: Engine) -> None:
    chat("RDV Guéret")
    chat("1")
    chat("RDV Guéret", phone=NEIGHBOUR)
    chat("1", phone=NEIGHBOUR)
    chat("OUI", phone=NEIGHBOUR)
    assert chat("OUI").messages == (
        "Désolé, ce créneau a été réservé entre-temps. Envoyez RDV pour voir les créneaux encore libres.",
    )
    assert conversation(engine).state == State.IDLE
    assert len(bookings(engine)) == 1


def test_booking_and_cancelling_reach_the_journal_through_the_bus(chat: Chat, engine: Engine) -> None:
    chat("RDV Guéret")
    chat("1")
    chat("OUI")
    chat("ANNULER")
    assert journal(engine) == ["SlotBooked", "BookingCancelled"]
    assert [b.status for b in bookings(engine)] == ["cancelled"]


def test_annuler_with_a_number_out_of_range_asks_which(chat: Chat) -> None:
    for commune in ("Guéret", "st leger la montagne"):
        chat(f"RDV {commune}")
        chat("1")
        chat("OUI")
    assert chat("ANNULER 7").messages[0].startswith("Quel RDV annuler ?\n1) mar. 1er déc. 9h Guéret")
    assert chat("5").messages[0].startswith("Désolé, nous n'avons pas compris votre réponse. Répondez 1 ou 2.")


def test_homonyms_are_told_apart_by_postcode(chat: Chat, engine: Engine, valley: Valley) -> None:
    with Session(engine) as session:
        session.add(t.Commune(territory_id=valley.territory_id, insee_code="60186", name="Crocq", postcodes=["60120"],
                              latitude=49.6, longitude=2.1))  # fmt: skip
        session.commit()
    assert chat("RDV Crocq").messages[0] == "Quelle commune ?\n1) Crocq (23260)\n2) Crocq (60120)\nRépondez 1 ou 2"


def test_the_number_written_to_picks_the_territory_of_a_homonym(chat: Chat, engine: Engine, valley: Valley) -> None:
    # Two territories each have a Crocq. Each territory's own number finds its own commune
    # straight away; a number no territory claims still offers both.
    with Session(engine) as session:
        valley_territory = session.get(t.Territory, valley.territory_id)
        assert valley_territory is not None
        other = t.Territory(organisation_id=valley_territory.organisation_id, name="Oise", departement="60")
        session.add(other)
        session.flush()
        session.add(t.Commune(territory_id=other.id, insee_code="60186", name="Crocq", postcodes=["60120"],
                              latitude=49.6, longitude=2.1))  # fmt: skip
        valley_territory.sms_number = SERVICE_NUMBER
        other.sms_number = "38012"
        session.add(valley_territory)
        session.commit()
        other_id = other.id
    waiting = "C'est noté : pas de passage prévu pour l'instant à Crocq. Nous vous préviendrons dès qu'un passage est prévu."
    assert chat("RDV Crocq").messages[0] == waiting  # no list to choose from: the valley's own Crocq
    assert chat("RDV Crocq", phone=NEIGHBOUR, to="38012").messages[0] == waiting  # the Oise's
    assert chat("RDV Crocq", phone="+33611111111", to="+33939999999").messages[0] == (
        "Quelle commune ?\n1) Crocq (23260)\n2) Crocq (60120)\nRépondez 1 ou 2"
    )
    with Session(engine) as session:
        waiting_in = {
            phone: territory
            for phone, territory in session.exec(
                select(t.Resident.phone, t.Commune.territory_id)
                .join(t.WaitlistEntry, col(t.WaitlistEntry.resident_id) == t.Resident.id)
                .join(t.Commune, col(t.Commune.id) == t.WaitlistEntry.commune_id)
            )
        }
    assert waiting_in == {RESIDENT: valley.territory_id, NEIGHBOUR: other_id}
    # A resident known in the valley who writes to the Oise's number is asked for a commune.
    assert chat("RDV", to="38012").messages[0].startswith("Bonjour ! Pour prendre RDV, répondez avec le nom")
    assert chat("RDV").messages == (waiting,)  # and on the valley's number, their Crocq straight away


def test_opt_out_and_back_in_are_events(chat: Chat, engine: Engine) -> None:
    assert chat("STOP").messages == ()
    assert chat("START").messages[0].startswith("C'est noté : vous recevrez à nouveau nos SMS.")
    assert chat("ARRET").messages[0].startswith("C'est noté : vous ne recevrez plus nos SMS")
    assert chat("YES", opt_out_type="START").messages == ()  # Twilio's opt-in word: mirrored, Twilio answers
    with Session(engine) as session:
        assert not session.exec(select(t.Resident)).one().opted_out
    assert journal(engine) == ["ResidentOptedOut", "ResidentOptedOut"]


def test_an_opted_out_resident_gets_nothing_and_their_dialogue_does_not_move(chat: Chat, engine: Engine) -> None:
    chat("RDV")
    chat("ARRET")
    for body in ("RDV", "Guéret", "1", "OUI", "AIDE", "ARRET"):
        assert chat(body).messages == ()
    assert bookings(engine) == []
    assert conversation(engine).state == State.IDLE


def test_a_sender_that_is_not_a_phone_number_gets_no_reply(chat: Chat, engine: Engine) -> None:
    assert chat("RDV", phone="36180").messages == ()
    with Session(engine) as session:
        inbound = session.exec(select(t.InboundMessage)).one()
        assert inbound.from_phone is None and inbound.reply == "[]"
        assert session.exec(select(t.Conversation)).all() == []


def test_a_redelivery_returns_the_stored_reply_without_running_again(chat: Chat, engine: Engine, clock: FixedClock) -> None:
    first = chat("RDV Guéret", sid="SM1")
    clock.advance(minutes=5)
    again = chat("RDV Guéret", sid="SM1")
    assert again.messages == first.messages and again.redelivery and not first.redelivery
    assert conversation(engine).updated_at == NOW


def test_a_state_left_by_an_older_version_starts_afresh(chat: Chat, engine: Engine) -> None:
    chat("RDV")
    with Session(engine) as session:
        row = session.exec(select(t.Conversation)).one()
        row.state, row.context = "choosing_colour", {"colours": ["bleu"]}
        session.add(row)
        session.commit()
    assert chat("Guéret").messages == (GUERET_OFFER,)


def test_every_reply_fits_one_sms_segment(chat: Chat) -> None:
    script = ["RDV", "xyz", "st leger", "9", "1", "NON", "2", "YES", "OUI", "MES RDV", "ANNULER", "AIDE", "23000",
              "3", "Crocq", "ARRET", "START"]  # fmt: skip
    for body in script:
        for sms in chat(body).messages:
            assert count_segments(sms).segments == 1, (body, sms)


def test_logs_carry_no_phone_number_and_no_message_body(chat: Chat, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("mobile_services", "notifications"):
        caplog.set_level(logging.DEBUG, logger=name)
    script = ["Bonjour, ici Jeanne Martin", "Guéret", "1", "OUI", "MES RDV", "ANNULER", "ARRET", "START", "RDV Crocq"]
    for body in script:
        chat(body)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sms SM" in logged, "the dialogue does log, by MessageSid"
    assert RESIDENT not in logged and RESIDENT[1:] not in logged and RESIDENT[-8:] not in logged
    assert "Jeanne" not in logged
