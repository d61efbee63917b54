"""Private links: unguessable, revocable, one kind each, and a French 404 that reveals nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from mobile_services.cli import app as cli_app
from mobile_services.domain.commands import BookSlot
from mobile_services.service_layer.access import issue
from mobile_services.service_layer.messagebus import MessageBus
from mobile_services.storage import tables as t
from notifications.ports import FixedClock
from mobile_services.storage.db import make_engine, upgrade
from tests.fixtures.valley import Valley, build_valley

from .conftest import token_for

PAGES = ("/chauffeur/{}", "/chauffeur/{}/calendar.ics", "/conseiller/{}", "/conseiller/{}/calendar.ics")


def _assert_french_404(answer) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == 404
    assert '<html lang="fr">' in answer.text and "Cette page n'existe pas ou plus" in answer.text
    assert "Bus 1" not in answer.text and "Agent" not in answer.text


def test_tokens_are_long_random_and_carry_nothing(engine: Engine, valley: Valley, clock: FixedClock) -> None:
    tokens = {token_for(engine, valley, "vehicle", "Bus 1", clock.now()) for _ in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert len(token) >= 43  # 32 random bytes in base64: 256 bits
        assert "1" not in token or token.count("1") < 10  # nothing like an id repeated


def test_wrong_unknown_and_other_kind_tokens_get_the_french_404(
    client: TestClient, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    vehicle = token_for(engine, valley, "vehicle", "Bus 1", clock.now())
    counsellor = token_for(engine, valley, "counsellor", "Agent A", clock.now())
    assert client.get(f"/chauffeur/{vehicle}").status_code == 200
    assert client.get(f"/conseiller/{counsellor}").status_code == 200
    for path in PAGES:
        _assert_french_404(client.get(path.format("x" * 43)))
        _assert_french_404(client.get(path.format(vehicle[:-1] + ("A" if vehicle[-1] != "A" else "B"))))
    _assert_french_404(client.get(f"/conseiller/{vehicle}"))  # a driver's link opens no counsellor page
    _assert_french_404(client.get(f"/chauffeur/{counsellor}/calendar.ics"))
    _assert_french_404(client.get("/communes/99999"))
    _assert_french_404(client.get("/communes/abc/calendar.ics"))
    _assert_french_404(client.get("/passages/987654"))


def test_a_rotated_token_stops_working_at_once(client: TestClient, engine: Engine, valley: Valley, clock: FixedClock) -> None:
    old = token_for(engine, valley, "counsellor", "Agent A", clock.now())
    assert client.get(f"/conseiller/{old}/calendar.ics").status_code == 200
    new = token_for(engine, valley, "counsellor", "Agent A", clock.now() + timedelta(minutes=1))
    _assert_french_404(client.get(f"/conseiller/{old}/calendar.ics"))
    _assert_french_404(client.get(f"/conseiller/{old}"))
    assert client.get(f"/conseiller/{new}").status_code == 200


def test_other_territories_tokens_and_stops_are_out_of_reach(
    client: TestClient, bus: MessageBus, engine: Engine, valley: Valley, clock: FixedClock
) -> None:
    with Session(engine) as session:
        other = t.Territory(organisation_id=1, name="Ailleurs", departement="87")
        session.add(other)
        session.flush()
        stranger = t.Counsellor(territory_id=other.id, name="Agent Z", home_latitude=45.8, home_longitude=1.2, skills=["caf"])  # type: ignore[arg-type]
        session.add(stranger)
        session.commit()
        stranger_id, other_id = stranger.id, other.id
    with Session(engine) as session:
        with pytest.raises(Exception, match="counsellor"):  # a token of another territory's counsellor is never issued
            issue(session, territory_id=valley.territory_id, kind="counsellor", subject_id=stranger_id, now=clock.now())  # type: ignore[arg-type]
        token = issue(session, territory_id=other_id, kind="counsellor", subject_id=stranger_id, now=clock.now())  # type: ignore[arg-type]
        session.commit()
    booked = bus.handle(BookSlot(phone="+33612345678", slot_id=valley.slots["Guéret"][0]))
    clock.set(booked.start_at)
    page = client.get(f"/conseiller/{token}", params={"jour": "2026-12-01"})
    assert page.status_code == 200 and "Guéret" not in page.text  # not their stop
    _assert_french_404(client.post(f"/conseiller/{token}/rdv/{booked.booking_id}", data={"presence": "oui", "jour": "2026-12-01"}))
    _assert_french_404(client.post(f"/conseiller/{token}/passages/{valley.visits['Guéret']}/sans-rdv", data={"nombre": "3"}))
    with Session(engine) as session:
        assert session.get(t.Booking, booked.booking_id).status == "confirmed"  # type: ignore[union-attr]
        assert session.get(t.Visit, valley.visits["Guéret"]).walk_ins is None  # type: ignore[union-attr]


def test_the_cli_lists_and_rotates_private_links(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(empty_database_url)  # the CLI migrates: the database must be a migrated one
    engine = make_engine(empty_database_url)
    build_valley(engine)
    monkeypatch.setenv("MOBILE_SERVICES_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("MOBILE_SERVICES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILE_SERVICES_PUBLIC_BASE_URL", "https://rdv.example.fr")
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["links", "list"])
    assert listed.exit_code == 0, listed.output
    with Session(engine) as session:
        live = session.exec(select(t.AccessToken).where(t.AccessToken.revoked_at == None)).all()  # noqa: E711
    assert {(row.kind) for row in live} == {"vehicle", "counsellor"} and len(live) == 3  # Bus 1, Agent A, Agent B
    output = "".join(listed.output.split())
    for row in live:
        assert row.token in output
    again = runner.invoke(cli_app, ["links", "list"])
    assert again.exit_code == 0
    with Session(engine) as session:
        assert len(session.exec(select(t.AccessToken)).all()) == 3  # listing twice issues nothing new

    rotated = runner.invoke(cli_app, ["links", "rotate", "--counsellor", "agent a"])
    assert rotated.exit_code == 0, rotated.output
    assert "L'ancien lien ne fonctionne plus." in rotated.output
    with Session(engine) as session:
        agent = session.exec(select(t.Counsellor).where(t.Counsellor.name == "Agent A")).one()
        tokens = session.exec(select(t.AccessToken).where(t.AccessToken.subject_id == agent.id, t.AccessToken.kind == "counsellor")).all()
    assert len(tokens) == 2 and sum(1 for row in tokens if row.revoked_at is None) == 1
    new = next(row.token for row in tokens if row.revoked_at is None)
    assert f"https://rdv.example.fr/conseiller/{new}" in "".join(rotated.output.split())
    refused = runner.invoke(cli_app, ["links", "rotate", "--counsellor", "Personne"])
    assert refused.exit_code != 0 and "introuvable" in refused.output
    engine.dispose()
