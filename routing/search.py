"""Ruin operators and acceptance of the large neighbourhood search (pure Python).

The loop itself lives in :mod:`routing.lns` (it drives OR-Tools); this module only
decides *what to remove* from a plan and *whether to keep* a candidate plan, on plain
lists of node numbers, so it can be read and tested without a routing model.

A plan is a list of routes, one per route-day, each a list of node numbers in visiting
order. ``removable(node)`` is False for pinned and frozen stops: a ruin never touches them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Routes = Sequence[Sequence[int]]
Distance = Callable[[int, int], int]


@dataclass(frozen=True, kw_only=True)
class RuinContext:
    """What the ruin operators know about the model.

    * ``travel(a, b)``: minutes from node ``a`` to node ``b`` (any vehicle kind);
    * ``value(node, route)``: objective units saved by serving ``node`` on ``route``;
    * ``service(node)``: minutes spent at ``node``;
    * ``removable(node)``: False for pins and frozen stops.
    """

    travel: Distance
    value: Callable[[int, int], int]
    service: Callable[[int], int]
    removable: Callable[[int], bool]
    starts: Sequence[int]
    ends: Sequence[int]


def ruin(routes: Routes, ctx: RuinContext, rng: random.Random, max_remove: int) -> tuple[str, set[int]]:
    """Pick a ruin operator at random and return (its name, the nodes it removes)."""
    visited = [n for r in routes for n in r if ctx.removable(n)]
    if not visited:
        return "none", set()
    k = rng.randint(min(2, len(visited)), max(1, min(max_remove, len(visited))))
    name = rng.choices(_NAMES, weights=_WEIGHTS)[0]
    return name, _OPERATORS[name](routes, visited, ctx, rng, k)


def _related(routes: Routes, visited: list[int], ctx: RuinContext, rng: random.Random, k: int) -> set[int]:
    """The ``k`` visited stops closest to a random visited stop (Shaw / SISR-like)."""
    seed = rng.choice(visited)
    near = sorted(visited, key=lambda n: (ctx.travel(seed, n) + ctx.travel(n, seed), n))
    return set(near[:k])


def _random(routes: Routes, visited: list[int], ctx: RuinContext, rng: random.Random, k: int) -> set[int]:
    """``k`` visited stops drawn uniformly."""
    return set(rng.sample(visited, k))


def _string(routes: Routes, visited: list[int], ctx: RuinContext, rng: random.Random, k: int) -> set[int]:
    """A run of consecutive stops of the route of a random stop, and of its neighbours' routes.

    Strings of about ``k / 2`` stops are cut from the route of a random stop and from the
    route holding its nearest stop on another route (SISR's idea: free a region in
    several routes at once so stops can change route).
    """
    where = {n: (v, i) for v, r in enumerate(routes) for i, n in enumerate(r)}
    seed = rng.choice(visited)
    out: set[int] = set()
    done: set[int] = set()
    for n in sorted(visited, key=lambda m: (ctx.travel(seed, m), m)):
        v, i = where[n]
        if v in done:
            continue
        done.add(v)
        route = routes[v]
        length = max(1, min(len(route), rng.randint(1, max(1, k // 2 + 1))))
        lo = max(0, min(i - rng.randint(0, length - 1), len(route) - length))
        out.update(m for m in route[lo : lo + length] if ctx.removable(m))
        if len(out) >= k or len(done) >= 3:
            break
    return out


def _route(routes: Routes, visited: list[int], ctx: RuinContext, rng: random.Random, k: int) -> set[int]:
    """Every stop of one random non-empty route-day (bounded by ``2 k``)."""
    candidates = [r for r in routes if any(ctx.removable(n) for n in r)]
    route = rng.choice(candidates)
    stops = [n for n in route if ctx.removable(n)]
    if len(stops) > 2 * k:
        lo = rng.randint(0, len(stops) - 2 * k)
        stops = stops[lo : lo + 2 * k]
    return set(stops)


def _worst(routes: Routes, visited: list[int], ctx: RuinContext, rng: random.Random, k: int) -> set[int]:
    """Stops with the lowest value per minute they cost (detour + service), randomised."""
    scored: list[tuple[float, int]] = []
    for v, route in enumerate(routes):
        path = [ctx.starts[v], *route, ctx.ends[v]]
        for i in range(1, len(path) - 1):
            n = path[i]
            if not ctx.removable(n):
                continue
            a, b = path[i - 1], path[i + 1]
            minutes = ctx.travel(a, n) + ctx.service(n) + ctx.travel(n, b) - ctx.travel(a, b)
            scored.append((ctx.value(n, v) / max(1, minutes), n))
    scored.sort()
    out: set[int] = set()
    while scored and len(out) < k:
        out.add(scored.pop(int(len(scored) * rng.random() ** 3))[1])
    return out


_OPERATORS = {"related": _related, "string": _string, "random": _random, "route": _route, "worst": _worst}
_NAMES = tuple(_OPERATORS)
_WEIGHTS = (4, 3, 1, 1, 1)


class Acceptance:
    """Simulated-annealing-like acceptance on the objective, cooling to "not worse".

    The temperature falls linearly from ``start`` (objective units) to 0 as ``progress``
    (the fraction of the budget used) goes from 0 to 1. A plan at least as good as the
    current one is always kept; a worse one with probability ``exp(-delta / T)``.
    """

    def __init__(self, start: float, rng: random.Random) -> None:
        self.start = start
        self.rng = rng

    def accept(self, candidate: int, current: int, progress: float) -> bool:
        if candidate <= current:
            return True
        temperature = self.start * max(0.0, 1.0 - progress)
        if temperature <= 0:
            return False
        return self.rng.random() < math.exp(-(candidate - current) / temperature)
