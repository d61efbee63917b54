"""Commune contours (geo.api.gouv.fr ``contour``): read, normalised, every malformed one located."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mobile_services.territory.errors import TerritoryImportError
from mobile_services.territory.formats import geo_json_text, parse_text, read_file

WriteFile = Callable[..., Path]
CENTRE = [1.872, 46.241]  # Bourg-de-Sédelle (23501)


def ring(lon: float, lat: float, half: float = 0.01) -> list[list[float]]:
    """A closed square ring around (lon, lat)."""
    return [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half],
            [lon - half, lat - half]]  # fmt: skip


def answer(contour: Any, centre: list[float] = CENTRE) -> str:
    element = {
        "nom": "Bourg-de-Sédelle",
        "code": "23501",
        "codesPostaux": ["23300"],
        "population": 2412,
        "centre": {"type": "Point", "coordinates": centre},
        "contour": contour,
    }
    return "[\n" + json.dumps(element, ensure_ascii=False) + "\n]\n"


def test_a_polygon_contour_is_kept_with_the_commune(write_file: WriteFile) -> None:
    contour = {"type": "Polygon", "coordinates": [ring(*CENTRE)]}
    [commune] = read_file(write_file("23.json", answer(contour))).records
    assert commune.contour == contour  # type: ignore[attr-defined]


def test_a_multipolygon_is_normalised_to_longitude_latitude_floats(write_file: WriteFile) -> None:
    with_altitude = [[*position, 312] for position in ring(*CENTRE)]
    islet = [[1, 46], [1.0005, 46], [1.0005, 46.0005], [1, 46]]  # integers are numbers too
    contour = {"type": "MultiPolygon", "coordinates": [[with_altitude], [islet]], "bbox": [0, 0, 1, 1]}
    [commune] = read_file(write_file("23.json", answer(contour))).records
    assert commune.contour == {  # type: ignore[attr-defined]
        "type": "MultiPolygon",
        "coordinates": [[ring(*CENTRE)], [[[1.0, 46.0], [1.0005, 46.0], [1.0005, 46.0005], [1.0, 46.0]]]],
    }
    assert all(isinstance(v, float) for v in commune.contour["coordinates"][1][0][0])  # type: ignore[attr-defined]


def test_a_null_or_absent_contour_is_none(write_file: WriteFile, data_dir: Path) -> None:
    [commune] = read_file(write_file("23.json", answer(None))).records
    assert commune.contour is None  # type: ignore[attr-defined]
    assert all(c.contour is None for c in read_file(data_dir / "val-de-sedelle.json").records)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("contour", "reason"),
    [
        ("pas une géométrie", "doit être une géométrie GeoJSON avec « type » et « coordinates »"),
        ({"type": "Point", "coordinates": CENTRE}, "type « Point » : attendu Polygon ou MultiPolygon"),
        ({"type": "Polygon", "coordinates": []}, "polygone : un polygone est une liste non vide d'anneaux"),
        ({"type": "Polygon", "coordinates": [ring(*CENTRE)[:3]]}, "anneau 1 : un anneau doit avoir au moins 4 positions"),
        ({"type": "Polygon", "coordinates": [ring(*CENTRE)[:4]]}, "polygone, anneau 1 : l'anneau n'est pas fermé"),
        (
            {"type": "Polygon", "coordinates": [[*ring(*CENTRE)[:2], ["1,87", "46,24"], *ring(*CENTRE)[2:]]]},
            "une position doit être [longitude, latitude] en degrés décimaux",
        ),
        ({"type": "Polygon", "coordinates": [[[lat, lon] for lon, lat in ring(*CENTRE)]]}, "hors de la zone du département 23"),
        ({"type": "Polygon", "coordinates": [ring(2.35, 48.85)]}, "est hors de son contour : contour d'une autre commune ?"),
        ({"type": "MultiPolygon", "coordinates": []}, "un MultiPolygon doit contenir une liste non vide de polygones"),
        (
            {"type": "MultiPolygon", "coordinates": [[ring(*CENTRE)], [[[1.8, 46.2, 300, 4]]]]},
            "polygone 2, anneau 1 : un anneau doit avoir au moins 4 positions",
        ),
    ],
)
def test_a_malformed_contour_is_a_located_row_error(write_file: WriteFile, contour: Any, reason: str) -> None:
    with pytest.raises(TerritoryImportError) as caught:
        read_file(write_file("communes-23.json", answer(contour)))
    [error] = caught.value.errors
    assert (error.file, error.line, error.item, error.field) == ("communes-23.json", 2, 1, "contour")
    assert reason in error.reason_fr, error.reason_fr
    assert error.french().startswith("communes-23.json, ligne 2, élément 1, champ « contour » : ")


def test_the_geo_json_writer_keeps_the_contour(write_file: WriteFile) -> None:
    contour = {"type": "Polygon", "coordinates": [ring(*CENTRE)]}
    communes = read_file(write_file("23.json", answer(contour))).records
    text = geo_json_text(communes)  # type: ignore[arg-type]
    assert '"contour":{"type":"Polygon"' in text
    assert parse_text(text, "again.json").records == communes
