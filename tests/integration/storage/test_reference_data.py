"""The per-process copy of territories, communes and services: fresh where it must be."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from mobile_services.service_layer import reference_data
from mobile_services.storage import tables as t
from mobile_services.storage.db import session_scope
from mobile_services.territory.catalogue import seed_catalogue
from mobile_services.territory.generator import generate_territory
from mobile_services.territory.store import import_territory_data


@pytest.fixture(autouse=True)
def kept_for_a_minute() -> Iterator[None]:
    reference_data.configure(60)
    reference_data.forget()
    yield
    reference_data.configure(30)
    reference_data.forget()


@pytest.fixture
def territory(engine: Engine) -> Engine:
    import_territory_data(engine, generate_territory(7, 12, name="Val de test"), organisation="Test")
    seed_catalogue(engine)
    return engine


def _rename_behind_its_back(engine: Engine, commune_id: int, name: str) -> None:
    """Another process's write: straight SQL, nothing in this process is told."""
    with engine.begin() as connection:
        connection.execute(update(t.Commune).where(t.Commune.id == commune_id).values(name=name))


def test_communes_are_read_once_and_kept(territory: Engine) -> None:
    with Session(territory) as session:
        first = reference_data.communes(session)
        commune_id = next(iter(first))
    _rename_behind_its_back(territory, commune_id, "Renommée ailleurs")
    with Session(territory) as session:
        assert reference_data.communes(session)[commune_id].name == first[commune_id].name  # kept: not read again
    reference_data.forget(territory)
    with Session(territory) as session:
        assert reference_data.communes(session)[commune_id].name == "Renommée ailleurs"


def test_with_no_delay_every_read_goes_to_the_database(territory: Engine) -> None:
    reference_data.configure(0)
    with Session(territory) as session:
        commune_id = next(iter(reference_data.communes(session)))
    _rename_behind_its_back(territory, commune_id, "Tout de suite")
    with Session(territory) as session:
        assert reference_data.communes(session)[commune_id].name == "Tout de suite"


def test_an_import_in_this_process_is_seen_at_once(territory: Engine) -> None:
    with Session(territory) as session:
        before = len(reference_data.communes(session))
        names_before = set(reference_data.territory_names(session).values())
    import_territory_data(territory, generate_territory(8, 5, name="Autre vallée"), organisation="Test")
    with Session(territory) as session:
        assert len(reference_data.communes(session)) == before + 5
        assert set(reference_data.territory_names(session).values()) == names_before | {"Autre vallée"}


def test_a_new_sms_number_set_in_a_session_is_seen_once_committed(territory: Engine) -> None:
    with Session(territory) as session:
        territory_id = session.exec(select(t.Territory.id)).one()
        assert reference_data.territory_id_for_number(session, "+33939000001") is None
    with session_scope(territory) as session:
        reference_data.forget_after_commit(session)
        row = session.get(t.Territory, territory_id)
        assert row is not None
        row.sms_number = "+33939000001"
        session.add(row)
    with Session(territory) as session:
        assert reference_data.territory_id_for_number(session, "+33939000001") == territory_id


def test_two_databases_never_share_an_entry(territory: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import SQLModel

    from mobile_services.storage.db import make_engine

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    SQLModel.metadata.create_all(other)
    try:
        with Session(territory) as session:
            assert reference_data.communes(session)
        with Session(other) as session:
            assert reference_data.communes(session) == {}
            assert reference_data.services(session) == []
    finally:
        other.dispose()


def test_nearby_communes_are_those_of_the_same_territory_within_the_radius(territory: Engine) -> None:
    import_territory_data(territory, generate_territory(7, 12, name="Jumelle"), organisation="Test")  # same places
    with Session(territory) as session:
        every = reference_data.communes(session)
        origin = next(iter(every.values()))
        nearby = reference_data.nearby_communes(session, origin.id, 15.0)
        assert reference_data.nearby_communes(session, 10**9, 15.0) is None
    assert nearby is not None and nearby[origin.id] == (origin, 0.0)
    assert all(info.territory_id == origin.territory_id for info, _ in nearby.values())
    assert all(distance <= 15.0 for _, distance in nearby.values())
    twins = [c for c in every.values() if c.territory_id != origin.territory_id]
    assert twins, "the twin territory has communes at the very same places, never offered across"


def test_services_are_detached_and_complete(territory: Engine) -> None:
    with Session(territory) as session:
        kept = reference_data.services(session)
        codes = set(session.exec(select(t.Service.code)).all())
    assert {s.code for s in kept} == codes
    assert [s.id for s in kept] == sorted(s.id for s in kept)  # type: ignore[type-var]
    with Session(territory) as session:
        assert all(service not in session for service in reference_data.services(session))
