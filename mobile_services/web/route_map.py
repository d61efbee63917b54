"""The day's route of a vehicle as points of a small SVG map (no tiles, no script).

Coordinates are projected equirectangularly (longitudes scaled by the cosine of the mean
latitude) and fitted in a fixed view box; the template draws the line and numbered stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RouteMap", "route_svg"]

WIDTH = 600
HEIGHT = 320
PAD = 24


@dataclass(frozen=True)
class RouteMap:
    width: int
    height: int
    depot: tuple[float, float]
    stops: tuple[tuple[float, float], ...]

    @property
    def path(self) -> str:
        """SVG points of depot -> stops -> depot."""
        points = [self.depot, *self.stops, self.depot]
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def route_svg(depot: tuple[float, float], stops: list[tuple[float, float]]) -> RouteMap:
    """Project (latitude, longitude) pairs of the depot and the stops into the view box."""
    everything = [depot, *stops]
    mean_lat = math.radians(sum(lat for lat, _ in everything) / len(everything))
    xs = [lon * math.cos(mean_lat) for _, lon in everything]
    ys = [-lat for lat, _ in everything]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-4)
    scale = min((WIDTH - 2 * PAD) / span, (HEIGHT - 2 * PAD) / span)
    x0 = (WIDTH - (max(xs) - min(xs)) * scale) / 2
    y0 = (HEIGHT - (max(ys) - min(ys)) * scale) / 2

    def at(i: int) -> tuple[float, float]:
        return (x0 + (xs[i] - min(xs)) * scale, y0 + (ys[i] - min(ys)) * scale)

    return RouteMap(width=WIDTH, height=HEIGHT, depot=at(0), stops=tuple(at(i) for i in range(1, len(everything))))
