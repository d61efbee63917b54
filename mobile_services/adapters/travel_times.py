"""Where travel times come from: straight lines by default, an OSRM server when configured.

``routing`` stays pure: it defines the ``TableFetcher`` protocol and the cached
``OsrmTableClient``; the HTTP call lives here, with httpx. OSRM's usual profile is a
car; a bus drives the same roads more slowly, so bus minutes are the car's times a
``bus_slowdown`` factor (default 1.15).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from mobile_services.domain.exceptions import PlanningError
from routing.matrix import OsrmTableClient, TravelMatrix, haversine_matrix
from routing.problem import Location, ResourceKind

logger = logging.getLogger(__name__)


class MatrixProvider(Protocol):
    """Travel matrices per resource kind for a set of locations."""

    def matrices(self, locations: Iterable[Location], speeds_kmh: Mapping[str, float]) -> dict[ResourceKind, TravelMatrix]: ...


class HaversineProvider:
    """Crow-flies distance x road factor at each kind's speed (the embedded default)."""

    def __init__(self, road_factor: float = 1.3) -> None:
        self.road_factor = road_factor

    def matrices(self, locations: Iterable[Location], speeds_kmh: Mapping[str, float]) -> dict[ResourceKind, TravelMatrix]:
        points = list(locations)
        return {
            kind: haversine_matrix(points, speed_kmh=speeds_kmh[kind.value], road_factor=self.road_factor)
            for kind in ResourceKind
        }


class HttpxTableFetcher:
    """OSRM ``/table`` over HTTP, split in blocks the server accepts (``--max-table-size``)."""

    def __init__(self, base_url: str, *, profile: str = "driving", block: int = 100, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.block = block
        self.client = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))

    def fetch(self, coords: Sequence[tuple[float, float]]) -> tuple[list[list[float | None]], list[list[float | None]]]:
        n = len(coords)
        durations: list[list[float | None]] = [[None] * n for _ in range(n)]
        distances: list[list[float | None]] = [[None] * n for _ in range(n)]
        half = max(1, self.block // 2)
        blocks = [list(range(i, min(n, i + half))) for i in range(0, n, half)] if n > self.block else [list(range(n))]
        for sources in blocks:
            for targets in blocks:
                indices = sorted(set(sources) | set(targets))
                position = {index: k for k, index in enumerate(indices)}
                answer = self._table([coords[i] for i in indices], [position[i] for i in sources], [position[j] for j in targets])
                for a, i in enumerate(sources):
                    for b, j in enumerate(targets):
                        durations[i][j] = answer["durations"][a][b]
                        distances[i][j] = answer["distances"][a][b]
        return durations, distances

    @retry(
        retry=retry_if_exception_type((httpx.ConnectError, httpx.ReadTimeout)),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )
    def _call(self, url: str, params: dict[str, str]) -> httpx.Response:
        return self.client.get(url, params=params)

    def _table(self, coords: Sequence[tuple[float, float]], sources: list[int], targets: list[int]) -> dict:  # type: ignore[type-arg]
        path = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in coords)
        params = {
            "annotations": "duration,distance",
            "sources": ";".join(map(str, sources)),
            "destinations": ";".join(map(str, targets)),
        }
        try:
            response = self._call(f"{self.base_url}/table/v1/{self.profile}/{path}", params)
        except httpx.HTTPError as exc:
            logger.error("OSRM unreachable at %s: %s", self.base_url, exc.__class__.__name__)
            raise PlanningError(
                f"OSRM server unreachable ({exc.__class__.__name__})",
                f"Serveur d'itinéraires OSRM injoignable ({self.base_url}) : vérifiez MOBILE_SERVICES_OSRM_URL "
                "ou retirez-le pour utiliser les distances à vol d'oiseau.",
            ) from exc
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or body.get("code") != "Ok":
            logger.error("OSRM table failed: HTTP %s code %s", response.status_code, body.get("code"))
            raise PlanningError(
                f"OSRM table failed: HTTP {response.status_code} {body.get('code')}",
                f"Le serveur OSRM a refusé la demande de temps de trajet ({body.get('code') or response.status_code}).",
            )
        return body


class OsrmProvider:
    """Road travel times from OSRM, cached across solves; buses a bit slower than cars."""

    def __init__(self, fetcher: HttpxTableFetcher, *, bus_slowdown: float = 1.15) -> None:
        self.client = OsrmTableClient(fetcher)
        self.bus_slowdown = bus_slowdown

    def matrices(self, locations: Iterable[Location], speeds_kmh: Mapping[str, float]) -> dict[ResourceKind, TravelMatrix]:
        car = self.client.matrix(list(locations))
        bus = TravelMatrix(
            ids=car.ids,
            minutes=tuple(tuple(math.ceil(m * self.bus_slowdown) for m in row) for row in car.minutes),
            metres=car.metres,
        )
        return {ResourceKind.CAR: car, ResourceKind.BUS: bus}
