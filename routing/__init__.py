"""Weekly tour planning for mobile public services: pure data in, plan out.

Stdlib and OR-Tools only (a test enforces it). Entry point: :func:`routing.solver.solve`.
"""

from routing.matrix import OsrmTableClient, TableFetcher, TravelMatrix, haversine_matrix
from routing.params import FirstSolution, ParamsError, SolveParams, Strategy
from routing.problem import (
    Break,
    Candidate,
    Crew,
    CrewMember,
    HalfDay,
    Location,
    OpeningHours,
    Pin,
    Problem,
    ProblemError,
    Resource,
    ResourceKind,
    Shift,
    Site,
    StopRequest,
    TimeWindow,
    boosted_prize,
    split_week_minute,
    week_minute,
)
from routing.result import Kpis, Leg, Plan, Route, SolveStatus, Stop, Unserved, UnservedReason, Visit
from routing.solver import SearchProgress, solve

__all__ = [
    "Break",
    "Candidate",
    "Crew",
    "CrewMember",
    "FirstSolution",
    "HalfDay",
    "Kpis",
    "Leg",
    "Location",
    "OpeningHours",
    "OsrmTableClient",
    "ParamsError",
    "Pin",
    "Plan",
    "Problem",
    "ProblemError",
    "Resource",
    "ResourceKind",
    "Route",
    "SearchProgress",
    "Shift",
    "Site",
    "SolveParams",
    "SolveStatus",
    "Stop",
    "StopRequest",
    "Strategy",
    "TableFetcher",
    "TimeWindow",
    "TravelMatrix",
    "Unserved",
    "UnservedReason",
    "Visit",
    "boosted_prize",
    "haversine_matrix",
    "solve",
    "split_week_minute",
    "week_minute",
]
