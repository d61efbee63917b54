"""Commune contours in the database: stored when the import carries them, kept when it does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from mobile_services.storage.tables import Commune
from mobile_services.territory.errors import TerritoryImportError
from mobile_services.territory.fetch import fetch_departement
from mobile_services.territory.formats import load_files
from mobile_services.territory.records import TerritoryData
from mobile_services.territory.store import import_territory_data

WriteFile = Callable[..., Path]


def square(lon: float, lat: float, half: float = 0.02) -> dict[str, Any]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half],
            [lon - half, lat - half]]  # fmt: skip
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def with_contours(data_dir: Path, change: Callable[[dict[str, Any]], None] | None = None) -> str:
    """val-de-sedelle.json as geo.api.gouv.fr answers it with fields=...,contour (one element a line)."""
    elements = json.loads((data_dir / "val-de-sedelle.json").read_text(encoding="utf-8"))
    for element in elements:
        element["contour"] = square(*element["centre"]["coordinates"])
        if change is not None:
            change(element)
    return "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in elements) + "\n]\n"


def contours(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        return {c.insee_code: c.contour for c in session.exec(select(Commune))}


def test_contours_are_stored_and_kept_when_a_file_has_none(engine: Engine, data_dir: Path, write_file: WriteFile) -> None:
    import_territory_data(engine, load_files([write_file("23.json", with_contours(data_dir))])[0], organisation="CC")
    stored = contours(engine)
    assert stored["23502"] == square(1.8301, 46.2655)
    assert all(value is not None and value["type"] == "MultiPolygon" for value in stored.values())

    summary = import_territory_data(engine, load_files([data_dir / "communes.csv"])[0], organisation="CC")
    assert summary.counts["communes"].total == 8
    assert contours(engine) == stored  # CSV communes carry no contour: the stored ones stay

    def moved(element: dict[str, Any]) -> None:
        if element["code"] == "23502":
            element["contour"] = square(*element["centre"]["coordinates"], half=0.03)

    summary = import_territory_data(
        engine, load_files([write_file("new.json", with_contours(data_dir, moved))])[0], organisation="CC"
    )
    assert contours(engine)["23502"] == square(1.8301, 46.2655, half=0.03)


def test_a_malformed_contour_refuses_the_import_and_writes_nothing(
    engine: Engine, data_dir: Path, write_file: WriteFile
) -> None:
    def broken(element: dict[str, Any]) -> None:
        if element["code"] == "23504":
            element["contour"]["coordinates"][0][0].pop()  # the ring is no longer closed

    with pytest.raises(TerritoryImportError) as caught:
        load_files([write_file("communes-23.json", with_contours(data_dir, broken))])
    assert caught.value.french().endswith(
        "communes-23.json, ligne 5, élément 4, champ « contour » : polygone 1, anneau 1 : "
        "l'anneau n'est pas fermé (première et dernière positions différentes)"
    )
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Commune)).one() == 0


def test_fetch_asks_for_the_contours_and_they_are_stored(
    engine: Engine, data_dir: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(
        "/departements/23/communes",
        query_string={"fields": "nom,code,codesPostaux,population,centre,contour", "format": "json"},
    ).respond_with_data(with_contours(data_dir), content_type="application/json")
    communes = fetch_departement("23", base_url=httpserver.url_for("/"))
    httpserver.check_assertions()
    assert all(c.contour is not None for c in communes)
    import_territory_data(engine, TerritoryData(communes=communes), organisation="CC")
    assert contours(engine)["23501"] == square(1.872, 46.241)
