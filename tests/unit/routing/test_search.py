"""Ruin operators and acceptance of the large neighbourhood search, on plain node lists."""

from __future__ import annotations

import random

import pytest

from routing.search import _OPERATORS, Acceptance, RuinContext, ruin

# Two routes on a line: node n sits at kilometre n; 100 and 101 are the route ends.
ROUTES = [[1, 2, 3, 4, 5], [10, 11, 12, 13]]
PINNED = {3, 11}


def _context() -> RuinContext:
    def position(n: int) -> int:
        return 0 if n >= 100 else n

    return RuinContext(
        travel=lambda a, b: abs(position(a) - position(b)),
        value=lambda n, v: n,
        service=lambda n: 10,
        removable=lambda n: n not in PINNED,
        starts=[100, 101],
        ends=[100, 101],
    )


@pytest.mark.parametrize("name", sorted(_OPERATORS))
def test_no_operator_removes_a_pinned_or_unvisited_stop(name: str) -> None:
    ctx, rng = _context(), random.Random(1)
    visited = [n for r in ROUTES for n in r if n not in PINNED]
    for _ in range(50):
        removed = _OPERATORS[name](ROUTES, visited, ctx, rng, 3)
        assert removed and removed <= set(visited)


def test_related_removal_takes_the_stops_closest_to_its_seed() -> None:
    visited = [n for r in ROUTES for n in r if n not in PINNED]
    for seed in range(20):
        removed = sorted(_OPERATORS["related"](ROUTES, visited, _context(), random.Random(seed), 2))
        assert len(removed) == 2 and removed[1] - removed[0] <= 2


def test_same_seed_same_ruin() -> None:
    ctx = _context()
    first = [ruin(ROUTES, ctx, rng, 4) for rng in [random.Random(7)] for _ in range(5)]
    again = [ruin(ROUTES, ctx, rng, 4) for rng in [random.Random(7)] for _ in range(5)]

    assert first == again


def test_nothing_to_remove_when_every_stop_is_pinned() -> None:
    assert ruin([[3], [11]], _context(), random.Random(0), 5) == ("none", set())


def test_acceptance_always_keeps_better_plans_and_ends_greedy() -> None:
    acceptance = Acceptance(start=100.0, rng=random.Random(0))

    assert acceptance.accept(90, 100, progress=0.5)
    assert not acceptance.accept(101, 100, progress=1.0)
    accepted_early = sum(acceptance.accept(150, 100, progress=0.0) for _ in range(1000))
    assert 400 < accepted_early < 800  # exp(-0.5) ~ 0.61
