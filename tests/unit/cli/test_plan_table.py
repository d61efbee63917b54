"""The plan table of `mobile-services plan`: one line per stop, never wider than the terminal."""

from __future__ import annotations

from datetime import date

import pytest
from rich.cells import cell_len
from rich.console import Console

from mobile_services.cli.plan_table import (
    RouteRow,
    StopRow,
    clip,
    join_wrapped,
    plan_lines,
    terminal_width,
    unserved_lines,
)

ROUTES = [
    RouteRow(
        number=1,
        day=date(2026, 12, 7),
        vehicle="Bus France Services Nord-Creuse",
        crew=("Claire Fayolle", "Julien Aucouturier", "Marie-Thérèse Delagrange-Vallière"),
        km=81.4,
        driving_minutes=100,
        pause="12:37-13:22",
        stops=(
            StopRow(1, "09:00", "12:00", "Saint-Sulpice-le-Guérétois", "Place de la mairie et du monument aux morts", expected=16.2),
            StopRow(12345, "13:30", "17:00", "Noth", "Mairie", pinned=True, expected=3),
        ),
    ),
    RouteRow(2, date(2026, 12, 8), "Voiture Est", ("Pierre Dumontet",), 20, 20, None, ()),
]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 132, 200])
def test_no_line_is_wider_than_the_terminal(width: int) -> None:
    lines = [text for text, _ in plan_lines(ROUTES, width)]
    assert all(cell_len(line) <= width for line in lines), [line for line in lines if cell_len(line) > width]


@pytest.mark.parametrize("width", [60, 80, 100, 132, 200])
def test_each_stop_is_one_line_with_day_vehicle_number_times_and_place(width: int) -> None:
    lines = [text for text, _ in plan_lines(ROUTES, width)]
    stops = [line for line in lines if "#" in line]
    assert len(stops) == 2
    first, pinned = stops
    assert first.split()[:3] == ["lun.", "07/12", "Bus"] and "#1 " in first and "09:00-12:00" in first and "Saint-Sulpice" in first
    assert "#12345" in pinned and pinned.endswith("(épinglé)")  # the pin survives any shortening
    assert "aucun arrêt" in " ".join(lines)  # a route with no stop says so


def test_route_figures_are_on_the_route_line_at_80_columns() -> None:
    bus_nord = RouteRow(**{**ROUTES[0].__dict__, "vehicle": "Bus Nord"})
    lines = [text for text, _ in plan_lines([bus_nord, ROUTES[1]], 80)]
    route = next(i for i, line in enumerate(lines) if line.startswith("Tournée 1"))
    assert lines[route].startswith("Tournée 1 · lun. 07/12 · Bus Nord · 81 km, 1h40 de conduite, pause 12:37-13:22")
    assert lines[route + 1].startswith("    ") and "Claire Fayolle" in lines[route + 1]  # the crew wraps, indented
    assert "sans pause" in next(line for line in lines if line.startswith("Tournée 2"))
    # a long vehicle name pushes the figures to the next line, all together
    long_name = [text for text, _ in plan_lines(ROUTES, 80)]
    assert any(line.startswith("    81 km, 1h40 de conduite, pause 12:37-13:22") for line in long_name)


def test_wide_terminals_show_more_of_each_stop() -> None:
    narrow = [text for text, _ in plan_lines(ROUTES, 80) if "#1 " in text][0]
    wide = [text for text, _ in plan_lines(ROUTES, 160) if "#1 " in text][0]
    assert "…" in narrow and "Place de la mairie et du monument aux morts" in wide
    assert "16 pers." in wide and "pers." not in narrow
    assert "Bus France Services Nord-Creuse" in wide


def test_columns_line_up() -> None:
    lines = [text for text, _ in plan_lines(ROUTES, 100)]
    header = lines[0]
    stops = [line for line in lines if "#" in line]
    assert {line.index("#") for line in stops} == {header.index("Arrêt")}
    assert {line.index(":") - 2 for line in stops} == {header.index("Horaires")}


def test_helpers() -> None:
    assert clip("Saint-Sulpice", 6) == "Saint…" and clip("Noth", 6) == "Noth" and cell_len(clip("é" * 10, 5)) == 5
    assert join_wrapped(["aaaa", "bbbb", "cccc"], 11) == ["aaaa · bbbb", "    cccc"]
    lines = unserved_lines([{"commune": "Guéret", "expected_demand": 252.6, "reason_fr": "une raison " * 12, "mandatory": True}] * 20, 60)
    assert all(len(line) <= 60 for line in lines) and lines[0].startswith("  Guéret (252,6 pers.) : une raison")
    assert "[obligatoire]" in " ".join(lines) and lines[-1] == "  ... et 5 autres communes."


def test_columns_environment_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=200)
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width(console) == 80
    monkeypatch.delenv("COLUMNS")
    assert terminal_width(console) == 200
