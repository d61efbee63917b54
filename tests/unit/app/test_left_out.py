"""Why a commune got no stop: each situation is built, solved, and its French line checked."""

from __future__ import annotations

import dataclasses
from datetime import date

from mobile_services.service_layer.left_out import explain_left_out
from mobile_services.service_layer.planning_problem import PlanningOptions, SiteIssue, WeekProblem
from mobile_services.storage import tables as t
from routing.params import SolveParams
from routing.problem import Break, Location, OpeningHours, Problem, Resource, ResourceKind, Shift, TimeWindow
from routing.solver import solve
from tests.unit.routing.builders import cand, crew, hm, loc, site, window

MONDAY = date(2026, 12, 7)


def _car(id: int, home: Location, name: str) -> Resource:
    return Resource(id=id, kind=ResourceKind.CAR, start=home, skills=frozenset({"vehicle:car"}), name=name)


def _week(problem: Problem, demand: dict[int, float], names: dict[int, str] | None = None, **extra: object) -> WeekProblem:
    """The WeekProblem around ``problem``: one commune and one site row per candidate."""
    names = names or {}
    communes = {
        c.commune_id: t.Commune(id=c.commune_id, territory_id=1, insee_code=f"{c.commune_id:05d}",
                                name=names.get(c.commune_id, f"Commune {c.commune_id}"), latitude=0, longitude=0)
        for c in problem.candidates
    }
    sites = {
        c.id: t.Site(id=c.id, commune_id=c.commune_id, name="Mairie", latitude=0, longitude=0) for c in problem.candidates
    }
    for commune_id in demand:
        communes.setdefault(commune_id, t.Commune(id=commune_id, territory_id=1, insee_code=f"{commune_id:05d}",
                                                 name=names.get(commune_id, f"Commune {commune_id}"), latitude=0, longitude=0))
    return WeekProblem(
        territory=t.Territory(id=1, organisation_id=1, name="Test", departement="23"),
        week="2026-W50",
        days=[MONDAY],
        problem=problem,
        sites={**sites, **extra.get("sites", {})},  # type: ignore[dict-item]
        communes=communes,
        vehicles={},
        counsellors={},
        values={},
        closed=[],
        demand_by_commune=demand,
        site_issues=extra.get("site_issues", {}),  # type: ignore[arg-type]
        options=PlanningOptions(),
    )


def _explain(week: WeekProblem) -> dict[int, str]:
    plan = solve(week.problem, SolveParams(time_limit_s=0.5, workers=1))
    return {item.commune_id: item.text_fr for item in explain_left_out(week, plan, max_gap_weeks=8)}


def test_a_car_that_cannot_arrive_before_closing_is_named_with_its_drive() -> None:
    # The mairie opens 09:00-12:00 on Monday; the car's day starts at 09:00, 35 min away.
    home = Location(id=1, lat=46.2337, lon=1.4870, name="La Souterraine")
    mairie = site(10, 0, 0, commune=7, opening={0: [window("09:00", "12:00")]})
    far = mairie.__class__(**{**mairie.__dict__, "location": Location(id=10, lat=46.2337 + 0.22, lon=1.4870)})
    problem = Problem(
        resources=(_car(1, home, "Voiture Ouest"),),
        shifts=(Shift(resource_id=1, day=0, window=window("09:00", "17:00")),),
        candidates=(cand(10, far, duration=180, prize=5, skills={"vehicle:car"}),),
    )
    text = _explain(_week(problem, {7: 5.0}))[7]
    drive = problem.matrix(ResourceKind.CAR).minutes_between(1, 10)
    assert text == (
        f"la journée de Voiture Ouest (lundi 09:00-17:00) ne laisse pas le temps de venir de La Souterraine "
        f"({drive} min de route) et de tenir un arrêt de 180 min avant la fermeture à 12:00 (lundi) : ouvrez plus "
        "tard ou plus tôt, ou faites partir la tournée plus tôt"
    )
    assert 20 <= drive <= 40


def test_no_counsellor_with_the_skill_on_the_day_the_site_opens() -> None:
    # Open on Tuesday afternoon only; the ANTS counsellor works on Monday.
    home = loc(1)
    mairie = site(10, 2, 0, commune=7, opening={1: [window("14:00", "17:00")]})
    problem = Problem(
        resources=(_car(1, home, "Voiture Est"), _car(2, loc(2), "Voiture Ouest")),
        shifts=(
            Shift(resource_id=1, day=0, crew=crew((5, {"ants"}))),
            Shift(resource_id=2, day=1, crew=crew((6, {"caf"}))),
        ),
        candidates=(cand(10, mairie, duration=120, prize=5, skills={"vehicle:car", "ants"}),),
    )
    text = _explain(_week(problem, {7: 5.0}))[7]
    assert text.startswith(
        "« Mairie » n'ouvre que mardi 14:00-17:00 et aucun conseiller ayant la compétence ants ne tourne ce jour-là "
        "(compétence le Voiture Est lun.)"
    )


def test_a_round_trip_over_the_driving_limit() -> None:
    home = loc(1)
    far = site(10, 150, 0, commune=7)
    problem = Problem(
        resources=(_car(1, home, "Voiture Est"),),
        shifts=(Shift(resource_id=1, day=0, window=window("06:00", "22:00"), max_driving=120),),
        candidates=(cand(10, far, duration=120, prize=5, skills={"vehicle:car"}),),
    )
    text = _explain(_week(problem, {7: 5.0}))[7]
    drive = 2 * problem.matrix(ResourceKind.CAR).minutes_between(home.id, far.location.id)
    assert text == f"l'aller-retour depuis le dépôt ({drive} min de route) dépasse la limite de conduite de Voiture Est (120 min par jour)"


def test_a_commune_that_lost_to_better_stops_says_by_how_much() -> None:
    # One car, one morning: the town (worth 8) beats the village (worth 3).
    problem = Problem(
        resources=(_car(1, loc(1), "Voiture Est"),),
        shifts=(Shift(resource_id=1, day=0, window=window("08:30", "12:30"), lunch=None),),
        candidates=(
            cand(10, site(10, 2, 0, commune=7), duration=180, prize=8, skills={"vehicle:car"}),
            cand(11, site(11, 3, 0, commune=8), duration=180, prize=3, skills={"vehicle:car"}),
        ),
    )
    texts = _explain(_week(problem, {7: 8.0, 8: 3.0}, names={7: "Bourg", 8: "Hameau"}))
    assert 7 not in texts
    assert texts[8].startswith(
        "pour y passer, la tournée où ce serait le moins coûteux (Voiture Est lun., parmi 1 possibles) devrait "
        "supprimer 1 arrêt (Bourg) et rouler 2 min de plus, qui reçoivent 8,0, contre 3,0 ici"
    )
    assert texts[8].endswith("un passage devient obligatoire après 8 semaines sans visite")


def _morning_with_a_far_village() -> tuple[Problem, int]:
    """A car's morning (08:00-12:30): two 90-min stops next to home worth 4 each, or one far
    away worth 5 whose drive leaves room for no other stop. Returns the problem and that drive."""
    home = loc(1)
    far = site(12, 0, 60, commune=9)
    problem = Problem(
        resources=(_car(1, home, "Voiture Est"),),
        shifts=(Shift(resource_id=1, day=0, window=window("08:00", "12:30"), lunch=None),),
        candidates=(
            cand(10, site(10, 1, 0, commune=7), duration=90, prize=4, skills={"vehicle:car"}),
            cand(11, site(11, 2, 0, commune=8), duration=90, prize=4, skills={"vehicle:car"}),
            cand(12, far, duration=90, prize=5, skills={"vehicle:car"}),
        ),
    )
    drive = problem.matrix(ResourceKind.CAR).minutes_between(home.id, far.location.id)
    # the far stop alone fits, beside one of the near ones it does not
    assert 90 + 2 * drive <= 270 < 90 + 90 + 2 * drive
    return problem, drive


def test_the_drive_to_a_far_village_counts_in_what_it_would_push_out() -> None:
    # Its stop overlaps only one of the near ones (worth 4 < 5), but the drive there and
    # back takes the other's time too: it would cost both (8).
    problem, drive = _morning_with_a_far_village()
    texts = _explain(_week(problem, {7: 4.0, 8: 4.0, 9: 5.0}, names={7: "Près", 8: "Tout-Près", 9: "Loin"}))
    assert set(texts) == {9}
    head, _, tail = texts[9].partition(" min de plus, qui reçoivent 8,0, contre 5,0 ici")
    assert tail
    prefix = (
        "pour y passer, la tournée où ce serait le moins coûteux (Voiture Est lun., parmi 1 possibles) devrait "
        "supprimer 2 arrêts ("
    )
    assert head.startswith(prefix)
    stops, _, extra = head.removeprefix(prefix).partition(") et rouler ")
    assert sorted(stops.split(", ")) == ["Près", "Tout-Près"]
    # the round trip out there, less the few minutes the near stops took
    assert 2 * drive - 10 <= int(extra) < 2 * drive


def test_a_better_stop_the_search_missed_is_told_as_such() -> None:
    # A plan that kept the village (3) where the town (8) fitted in its place: the line
    # does not invent a rule, it says the search did not find it and how to give it time.
    problem = Problem(
        resources=(_car(1, loc(1), "Voiture Est"),),
        shifts=(Shift(resource_id=1, day=0, window=window("08:30", "12:30"), lunch=None),),
        candidates=(
            cand(10, site(10, 2, 0, commune=7), duration=180, prize=8, skills={"vehicle:car"}),
            cand(11, site(11, 3, 0, commune=8), duration=180, prize=3, skills={"vehicle:car"}),
        ),
    )
    week = _week(problem, {7: 8.0, 8: 3.0}, names={7: "Bourg", 8: "Hameau"})
    worse = solve(dataclasses.replace(problem, candidates=problem.candidates[1:]), SolveParams(time_limit_s=0.5, workers=1))
    texts = {item.commune_id: item.text_fr for item in explain_left_out(week, worse, max_gap_weeks=8)}
    assert texts == {
        7: "un arrêt y tenait (Voiture Est lun., en supprimant 1 arrêt (Hameau)) et aurait reçu 8,0 contre 3,0 : le "
        "calcul ne l'a pas trouvé dans le temps imparti ; relancez-le avec plus de temps (--time-limit)"
    }


def test_a_site_whose_window_is_too_short_gives_the_minutes_it_leaves() -> None:
    issue = SiteIssue(
        key="too_short",
        fields={"vehicle": "Voiture Ouest", "shift": "mardi 08:30-17:00", "usable": 60, "site": "Mairie", "drive": 25,
                "depot": "La Souterraine", "hours": "mardi 09:00-10:00", "minimum": 90},
        english="",
    )
    problem = Problem(resources=(_car(1, loc(1), "Voiture Ouest"),), shifts=(Shift(resource_id=1, day=1),), candidates=())
    week = _week(problem, {7: 4.0}, sites={20: t.Site(id=20, commune_id=7, name="Mairie", latitude=0, longitude=0)},
                 site_issues={20: issue})
    assert _explain(week)[7] == (
        "la journée de Voiture Ouest (mardi 08:30-17:00) ne laisse que 60 min sur place à « Mairie » (25 min de route "
        "depuis La Souterraine, ouvert mardi 09:00-10:00) ; un arrêt dure au moins 90 min : élargissez les horaires "
        "du lieu ou rapprochez une tournée"
    )


def test_communes_served_or_without_demand_are_not_listed() -> None:
    problem = Problem(
        resources=(_car(1, loc(1), "Voiture Est"),),
        shifts=(Shift(resource_id=1, day=0),),
        candidates=(cand(10, site(10, 2, 0, commune=7), duration=120, prize=5, skills={"vehicle:car"}),),
    )
    assert _explain(_week(problem, {7: 5.0, 9: 0.4})) == {}
