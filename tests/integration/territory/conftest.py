"""Fixtures for the territory integration tests: the made-up Val de Sédelle files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data" / "territory"


@pytest.fixture
def data_dir() -> Path:
    """tests/data/territory: the Val de Sédelle (8 invented communes in the 23) and broken files."""
    return DATA


@pytest.fixture
def sedelle_files() -> list[Path]:
    """One file of each kind: communes (geo.api JSON), sites, vehicles, counsellors, services."""
    return [
        DATA / name for name in ("val-de-sedelle.json", "sites.csv", "vehicules.csv", "conseillers.csv", "services.csv")
    ]


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """write_file(name, text, encoding='utf-8') -> Path in tmp_path; bytes are written as-is."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write
