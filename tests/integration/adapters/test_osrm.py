"""OSRM /table over real HTTP against a local stub server (never the internet)."""

from __future__ import annotations

import json
import math
import re
import socket
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mobile_services.adapters.travel_times import HttpxTableFetcher, OsrmProvider
from mobile_services.domain.exceptions import PlanningError
from routing.problem import Location, ResourceKind

TABLE = re.compile(r"^/table/v1/driving/.+")
POINTS = [Location(id=i, lat=46.0 + 0.05 * i, lon=2.0 + 0.03 * i) for i in range(6)]


def _osrm_like(request: Request) -> Response:
    """Answers like OSRM: seconds = 60 x index distance, metres = 1000 x index distance."""
    coords = request.path.split("/")[-1].split(";")
    query = parse_qs(request.query_string.decode())
    sources = [int(x) for x in query["sources"][0].split(";")]
    targets = [int(x) for x in query["destinations"][0].split(";")]
    assert query["annotations"] == ["duration,distance"]
    index = [round((float(c.split(",")[1]) - 46.0) / 0.05) for c in coords]
    durations = [[60.0 * abs(index[s] - index[d]) for d in targets] for s in sources]
    distances = [[1000.0 * abs(index[s] - index[d]) for d in targets] for s in sources]
    return Response(json.dumps({"code": "Ok", "durations": durations, "distances": distances}), content_type="application/json")


def test_table_is_fetched_in_blocks_and_cached(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TABLE, method="GET").respond_with_handler(_osrm_like)
    provider = OsrmProvider(HttpxTableFetcher(httpserver.url_for("/"), block=4), bus_slowdown=1.5)
    matrices = provider.matrices(POINTS, {"bus": 40, "car": 60})
    car, bus = matrices[ResourceKind.CAR], matrices[ResourceKind.BUS]
    assert car.minutes_between(0, 5) == 5 and car.metres_between(5, 0) == 5000
    assert bus.minutes_between(0, 5) == math.ceil(5 * 1.5)
    requests_made = len(httpserver.log)
    assert requests_made > 1, "6 points with a block of 4 need several requests"
    provider.matrices(POINTS[:3], {"bus": 40, "car": 60})
    assert len(httpserver.log) == requests_made, "known pairs come from the cache"


def test_unreachable_osrm_is_explained_in_french() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OsrmProvider(HttpxTableFetcher(f"http://127.0.0.1:{port}"))
    with pytest.raises(PlanningError) as caught:
        provider.matrices(POINTS, {"bus": 40, "car": 60})
    assert "OSRM injoignable" in caught.value.french()


def test_osrm_error_answer_is_explained(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TABLE, method="GET").respond_with_json(
        {"code": "TooBig", "message": "Too many table coordinates"}, status=400
    )
    with pytest.raises(PlanningError, match="TooBig"):
        OsrmProvider(HttpxTableFetcher(httpserver.url_for("/"))).matrices(POINTS, {"bus": 40, "car": 60})
