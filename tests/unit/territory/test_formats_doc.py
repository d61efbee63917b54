"""FORMATS.md stays true: every column documented, every example importable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mobile_services.territory as territory_package
from mobile_services.territory.formats import GEO_JSON, LAYOUTS, parse_text

DOC = Path(territory_package.__file__).with_name("FORMATS.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```(\w*)\n(.*?)```", DOC, flags=re.DOTALL)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.kind)
def test_every_column_and_alias_is_documented(layout: object) -> None:
    section = DOC.split(f"## `{layout.file_name}`")[1].split("\n## ")[0]  # type: ignore[attr-defined]
    for column in layout.columns:  # type: ignore[attr-defined]
        for name in (column.name, *column.aliases):
            assert f"`{name}`" in section or (
                column.field == "opening_hours" and "`lundi` ... `dimanche`" in section
            ), name


def test_every_example_file_is_importable() -> None:
    kinds = []
    for language, text in EXAMPLES:
        if language == "json" or text.startswith(("code_insee;", "nom;", "code;")):
            kinds.append(parse_text(text, "FORMATS.md").kind)
    assert kinds == [GEO_JSON, "communes", "sites", "vehicles", "counsellors", "services"]
