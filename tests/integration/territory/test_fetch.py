"""Downloading communes from a local stand-in for geo.api.gouv.fr (never the internet)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mobile_services.territory.errors import TerritoryFetchError, TerritoryImportError
from mobile_services.territory.fetch import FIELDS, fetch_departement

PATH = "/departements/23/communes"


@pytest.fixture
def answer(data_dir: Path) -> bytes:
    """What geo.api.gouv.fr would answer for the made-up Val de Sédelle."""
    return (data_dir / "val-de-sedelle.json").read_bytes()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_error(code: str = "23", **kwargs: object) -> TerritoryFetchError:
    with pytest.raises(TerritoryFetchError) as caught:
        fetch_departement(code, retry_wait=0, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_communes_are_downloaded_validated_and_saved(httpserver: HTTPServer, answer: bytes, tmp_path: Path) -> None:
    httpserver.expect_oneshot_request(PATH, query_string={"fields": FIELDS, "format": "json"}).respond_with_data(
        answer, content_type="application/json"
    )
    saved = tmp_path / "dl" / "communes-23.json"
    communes = fetch_departement("23", base_url=httpserver.url_for("/"), save_to=saved)
    assert [c.insee_code for c in communes] == [f"2350{n}" for n in range(1, 9)]
    assert communes[0].origin.file == "localhost (département 23)"
    assert saved.read_bytes() == answer
    httpserver.check_assertions()


def test_single_digit_codes_are_padded(httpserver: HTTPServer) -> None:
    centre = {"type": "Point", "coordinates": [5.2, 46.2]}
    one = json.dumps([{"nom": "A", "code": "01501", "codesPostaux": ["01000"], "population": 5, "centre": centre}])
    httpserver.expect_oneshot_request("/departements/01/communes").respond_with_data(one)
    assert fetch_departement("1", base_url=httpserver.url_for("/"))[0].departement == "01"


def test_an_unknown_departement_code_is_refused_without_calling_the_api() -> None:
    exc = fetch_error("96", base_url="http://127.0.0.1:9")
    assert "n'est pas un code de département" in exc.french()


def test_a_404_says_the_departement_is_unknown(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"code": 404, "message": "Département non trouvé"}, status=404)
    exc = fetch_error(base_url=httpserver.url_for("/"))
    assert "ne connaît pas le département 23" in exc.french()
    assert "HTTP 404" in str(exc)


def test_a_server_error_suggests_retrying_or_importing_a_file(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("oops", status=500)
    exc = fetch_error(base_url=httpserver.url_for("/"))
    assert "erreur 500" in exc.french() and "territory import" in exc.french()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "pas du JSON"),
        (b'[{"nom":"A"', "pas du JSON"),
        (b'{"features": []}', "aucune liste"),
    ],
)
def test_an_unreadable_answer_is_a_fetch_error(httpserver: HTTPServer, body: bytes, reason: str) -> None:
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    exc = fetch_error(base_url=httpserver.url_for("/"))
    assert reason in exc.french()


def test_invalid_communes_in_the_answer_name_the_element(httpserver: HTTPServer, answer: bytes) -> None:
    httpserver.expect_request(PATH).respond_with_data(answer.replace(b'"population":94', b'"population":-94'))
    with pytest.raises(TerritoryImportError) as caught:
        fetch_departement("23", base_url=httpserver.url_for("/"))
    assert [(e.item, e.field) for e in caught.value.errors] == [(4, "population")]


def test_communes_of_another_departement_are_refused(httpserver: HTTPServer, answer: bytes) -> None:
    httpserver.expect_request("/departements/87/communes").respond_with_data(answer)
    exc = fetch_error("87", base_url=httpserver.url_for("/"))
    assert "d'autres départements (23)" in exc.french()


def test_offline_gives_the_clear_french_message() -> None:
    exc = fetch_error(base_url=f"http://127.0.0.1:{closed_port()}")
    assert exc.french() == (
        "Impossible de joindre 127.0.0.1 : vérifiez la connexion, "
        "ou importez un fichier téléchargé avec `territory import`."
    )
    assert "cannot reach 127.0.0.1" in str(exc)


def test_connection_errors_are_retried_then_reported(answer: bytes) -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) < 3:
            raise httpx.ConnectError("DNS failure", request=request)
        return httpx.Response(200, content=answer)

    with httpx.Client(transport=httpx.MockTransport(flaky)) as client:
        assert len(fetch_departement("23", client=client, retry_wait=0)) == 8
    assert len(calls) == 3

    calls.clear()
    with httpx.Client(transport=httpx.MockTransport(flaky)) as client:
        exc = fetch_error(client=client, attempts=2)
    assert len(calls) == 2 and "Impossible de joindre" in exc.french()


def test_a_slow_server_times_out_with_a_message(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.6)
        return Response("[]", content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    exc = fetch_error(base_url=httpserver.url_for("/"), timeout=0.2)
    assert "n'a pas répondu à temps" in exc.french()
