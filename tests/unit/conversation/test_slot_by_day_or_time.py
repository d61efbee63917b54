"""A slot chosen by its day or time, among the offers or beyond the three shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from mobile_services.conversation import State
from mobile_services.storage import tables as t
from tests.fixtures.valley import Valley
from tests.unit.conversation.conftest import RESIDENT, Chat

NOT_OFFERED = "Désolé, pas de créneau libre à ce moment-là près de chez vous. Répondez 1, 2 ou 3 pour un des créneaux proposés."


@pytest.fixture
def afternoon_at_gueret(engine: Engine, valley: Valley) -> None:
    """A second Guéret stop on Friday 4 December, 14h and 14h30 (13h and 13h30 UTC), with its own slots."""
    with Session(engine) as session:
        morning = session.get(t.Visit, valley.visits["Guéret"])
        assert morning is not None
        start = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
        visit = t.Visit(
            plan_id=morning.plan_id, site_id=morning.site_id, day=start.date(), half_day="pm", start_at=start,
            end_at=start + timedelta(hours=1), vehicle_id=morning.vehicle_id, crew=morning.crew,
        )  # fmt: skip
        session.add(visit)
        session.flush()
        session.add_all(
            t.Slot(visit_id=visit.id, start_at=start + timedelta(minutes=30 * i), end_at=start + timedelta(minutes=30 * (i + 1)), capacity=1)  # type: ignore[arg-type]
            for i in range(2)
        )
        session.commit()


def conversation_state(engine: Engine) -> str:
    with Session(engine) as session:
        return session.exec(select(t.Conversation.state).where(t.Conversation.phone == RESIDENT)).one()


def test_a_day_beyond_the_three_offers_is_searched(chat: Chat, afternoon_at_gueret: None) -> None:
    offer = chat("RDV Guéret").messages[0]
    assert "ven." not in offer  # Tuesday's three slots come first
    assert chat("plutot vendredi").messages == (
        "Créneaux à Guéret :\n1) ven. 4 déc. 14h\n2) ven. 4 déc. 14h30\nRépondez 1 ou 2",
    )
    assert chat("la deuxieme").messages[0].startswith("Confirmer le RDV d'accompagnement du ven. 4 déc. à 14h30")


def test_a_day_and_time_beyond_the_offers_goes_straight_to_confirmation(chat: Chat, afternoon_at_gueret: None) -> None:
    chat("RDV Guéret")
    reply = chat("vendredi a 2 heures et demie")  # 14h30: "2 heures" in the afternoon
    assert reply.messages[0].startswith("Confirmer le RDV d'accompagnement du ven. 4 déc. à 14h30 à Guéret ?")
    assert chat("oui je veux bien").messages == ()  # booked: the confirmation goes by the outbox


def test_the_hour_nearest_a_planned_start_is_taken(chat: Chat, afternoon_at_gueret: None) -> None:
    chat("RDV Guéret")
    assert chat("vendredi vers 14h05").messages[0].startswith("Confirmer le RDV d'accompagnement du ven. 4 déc. à 14h ")


def test_a_day_with_nothing_near_offers_the_nearest_slots(chat: Chat, engine: Engine) -> None:
    chat("RDV Guéret")
    assert chat("mercredi").messages == (  # Wednesday's stop is 40 km away: Tuesday's, a day before
        "Pas libre à ce moment-là. Au plus près, à Guéret :\n"
        "1) mar. 1er déc. 9h\n2) mar. 1er déc. 9h30\n3) mar. 1er déc. 10h\nRépondez 1, 2 ou 3",
    )
    assert conversation_state(engine) == State.CHOOSING_SLOT
    assert chat("2").messages[0].startswith("Confirmer le RDV d'accompagnement du mar. 1er déc. à 9h30")


def test_while_confirming_another_time_among_the_offers(chat: Chat) -> None:
    chat("RDV Guéret")
    chat("1")
    assert chat("non plutot a 10h").messages[0].startswith("Confirmer le RDV d'accompagnement du mar. 1er déc. à 10h")


def test_the_afternoon_instead_of_the_morning(chat: Chat, afternoon_at_gueret: None) -> None:
    chat("RDV Guéret")
    assert chat("non je prefere l'apres midi").messages == (
        "Créneaux à Guéret :\n1) ven. 4 déc. 14h\n2) ven. 4 déc. 14h30\nRépondez 1 ou 2",
    )


def test_a_service_the_one_sms_list_had_no_room_for_can_be_named(chat: Chat, engine: Engine, valley: Valley) -> None:
    chat("RDV Châtel-Guyon")  # 1) CAF 2) Impots 3) Aide numérique 4) Autre demande
    with Session(engine) as session:  # what the list could not show stays nameable: drop "Impots" from the list
        row = session.exec(select(t.Conversation).where(t.Conversation.phone == RESIDENT)).one()
        row.context = {**row.context, "services": [s for s in row.context["services"] if s["code"] != "impots"]}
        session.add(row)
        session.commit()
    chat("c'est pour ma declaration d'impots")
    assert chat("1").messages[0].startswith("Confirmer le RDV Impots du jeu. 3 déc. à 9h")


def test_a_day_not_wanted_is_not_offered(chat: Chat, afternoon_at_gueret: None) -> None:
    chat("RDV Guéret")
    chat("1")
    reply = chat("oui mais pas mardi").messages[0]  # Tuesday is the offer being confirmed
    assert not reply.startswith(("Créneaux", "Confirmer", "RDV confirmé"))
