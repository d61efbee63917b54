"""Read-mostly reference data (territories, communes, the service catalogue), kept per process.

Every SMS step used to read again the territory its number belongs to, the territory's
communes (to read a commune name, to find the stops nearby) and the service catalogue: a
third of the queries of a dialogue, for tables that change when a coordinator imports a
territory or the catalogue, a few times a year. A web worker answering tens of SMS a
second keeps them here instead.

Freshness: a change made through this process (territory import, catalogue seeding, a
new SMS number) calls :func:`forget` at once. A change made by another process (a CLI
command while ``serve`` runs) is seen within ``reference_cache_seconds`` (30 s by
default; 0 reads the database every time). Everything here is keyed by engine, held
weakly, so two databases in one process (tests) never share an entry.

Values are plain frozen dataclasses, or ORM rows detached from their session: read-only,
safe to share between the threads of a worker.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from mobile_services.storage import tables as t
from routing.matrix import haversine_m

__all__ = ["CommuneInfo", "communes", "configure", "forget", "forget_after_commit", "nearby_communes", "services", "territory_id_for_number", "territory_names"]

V = TypeVar("V")

_lock = threading.Lock()
_entries: weakref.WeakKeyDictionary[Engine, dict[Any, tuple[float, Any]]] = weakref.WeakKeyDictionary()
_ttl_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class CommuneInfo:
    """What the SMS dialogue needs of a commune: its name, codes and place."""

    id: int
    territory_id: int
    name: str
    insee_code: str
    postcodes: tuple[str, ...]
    population: int
    latitude: float
    longitude: float


def configure(ttl_seconds: float) -> None:
    """How long an entry is trusted (the ``reference_cache_seconds`` setting)."""
    global _ttl_seconds
    _ttl_seconds = max(0.0, ttl_seconds)


def forget(engine: Engine | None = None) -> None:
    """Drop what is kept (for one engine, or all): called by whatever writes reference data."""
    with _lock:
        if engine is None:
            _entries.clear()
        else:
            _entries.pop(engine, None)


def forget_after_commit(session: Session) -> None:
    """Drop what is kept once this session's transaction commits (its writes are then visible)."""
    event.listen(session, "after_commit", lambda _session: forget(), once=True)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _cached(session: Session, key: Any, load: Callable[[], V]) -> V:
    if _ttl_seconds <= 0:
        return load()
    engine = _engine(session)
    now = time.monotonic()
    with _lock:
        entry = _entries.get(engine, {}).get(key)
    if entry is not None and now - entry[0] < _ttl_seconds:
        return entry[1]  # type: ignore[no-any-return]
    value = load()
    with _lock:
        _entries.setdefault(engine, {})[key] = (now, value)
    return value


# --------------------------------------------------------------------------- territories


def territory_id_for_number(session: Session, number: str) -> int | None:
    """The territory residents reach at ``number`` (E.164 or short code), None when none claims it."""
    return _cached(
        session,
        ("territory-number", number),
        lambda: session.exec(select(t.Territory.id).where(t.Territory.sms_number == number)).first(),
    )


def territory_names(session: Session) -> dict[int, str]:
    """Every territory's name, by id."""
    return _cached(session, "territory-names", lambda: dict(session.exec(select(t.Territory.id, t.Territory.name)).all()))


# --------------------------------------------------------------------------- communes


def communes(session: Session) -> dict[int, CommuneInfo]:
    """Every commune of the install, by id."""

    def load() -> dict[int, CommuneInfo]:
        rows = session.exec(
            select(
                t.Commune.id, t.Commune.territory_id, t.Commune.name, t.Commune.insee_code, t.Commune.postcodes,
                t.Commune.population, t.Commune.latitude, t.Commune.longitude,
            )  # fmt: skip
        ).all()
        return {
            row[0]: CommuneInfo(
                id=row[0], territory_id=row[1], name=row[2], insee_code=row[3] or "", postcodes=tuple(row[4] or ()),
                population=int(row[5] or 0), latitude=float(row[6]), longitude=float(row[7]),
            )  # fmt: skip
            for row in rows
        }

    return _cached(session, "communes", load)


def nearby_communes(session: Session, commune_id: int, radius_km: float) -> dict[int, tuple[CommuneInfo, float]] | None:
    """Communes of the same territory within ``radius_km`` of this one (itself at 0 km); None if unknown."""

    def load() -> dict[int, tuple[CommuneInfo, float]] | None:
        every = communes(session)
        origin = every.get(commune_id)
        if origin is None:
            return None
        dlat = radius_km / 111.0
        dlon = radius_km / (111.0 * max(0.1, math.cos(math.radians(origin.latitude))))
        result: dict[int, tuple[CommuneInfo, float]] = {commune_id: (origin, 0.0)}
        for other in every.values():
            if other.territory_id != origin.territory_id or other.id == commune_id:
                continue
            if abs(other.latitude - origin.latitude) > dlat or abs(other.longitude - origin.longitude) > dlon:
                continue
            distance = haversine_m(origin.latitude, origin.longitude, other.latitude, other.longitude) / 1000
            if distance <= radius_km:
                result[other.id] = (other, distance)
        return result

    return _cached(session, ("nearby", commune_id, radius_km), load)


# --------------------------------------------------------------------------- services


def services(session: Session) -> list[t.Service]:
    """The service catalogue, by id, detached from any session (read only)."""

    def load() -> list[t.Service]:
        rows = list(session.exec(select(t.Service).order_by(col(t.Service.id))).all())
        for row in rows:
            session.expunge(row)
        return rows

    return _cached(session, "services", load)
