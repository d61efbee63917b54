"""The SMS dialogue's commands run the web's handlers inside the SMS's own transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config import Settings
from mobile_services.domain.commands import BookSlot
from mobile_services.domain.exceptions import BookingRefused
from mobile_services.service_layer import booking
from mobile_services.service_layer.unit_of_work import JoinedUnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import FixedClock
from tests.fixtures.valley import NOW, Valley


def test_a_refused_command_rolls_back_its_savepoint_only(engine: Engine, valley: Valley, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with Session(engine) as session:
        session.add(t.InboundMessage(message_sid="SM" + "1" * 32, from_phone="+33612345678", to_phone="", body="OUI",
                                     received_at=NOW))  # fmt: skip
        session.flush()
        with pytest.raises(BookingRefused):  # no such slot
            booking.book_slot(BookSlot(phone="+33612345678", slot_id=987654), uow=JoinedUnitOfWork(session),
                              clock=FixedClock(NOW), settings=settings)  # fmt: skip
        uow = JoinedUnitOfWork(session)
        commune_id = valley.communes["Sainte-Feyre"]
        booking.book_slot(
            BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0], commune_id=commune_id), uow=uow,
            clock=FixedClock(NOW), settings=settings,
        )  # fmt: skip
        events = uow.collect_new_events()
        session.commit()  # the caller's transaction: the message and the booking together
    assert [type(e).__name__ for e in events] == ["SlotBooked"]
    with Session(engine) as session:
        assert session.exec(select(t.InboundMessage)).one().body == "OUI"
        assert len(session.exec(select(t.Booking)).all()) == 1
        resident = session.exec(select(t.Resident)).one()
    assert resident.commune_id == commune_id  # BookSlot.commune_id: where they live, as the SMS said
