"""Downloading a département's communes from geo.api.gouv.fr.

``GET {base_url}/departements/{code}/communes?fields=nom,code,codesPostaux,population,centre,contour&format=json``
answers the same JSON as the files coordinators download, so the answer goes through
the same parser and validation as ``territory import``. Connection failures are
retried a couple of times (tenacity); every failure ends as a
:class:`TerritoryFetchError` with a French message that tells what to do instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from mobile_services.territory.departements import DEPARTEMENTS
from mobile_services.territory.errors import TerritoryFetchError
from mobile_services.territory.formats import parse_geo_json
from mobile_services.territory.records import CommuneRecord

log = logging.getLogger(__name__)

GEO_API_URL = "https://geo.api.gouv.fr"
#: ``contour`` is each commune's outline (GeoJSON), kept in ``commune.contour`` for the plan map.
FIELDS = "nom,code,codesPostaux,population,centre,contour"
USER_AGENT = "mobile-services (territory fetch)"

_OFFLINE_FR = (
    "Impossible de joindre {host} : vérifiez la connexion, ou importez un fichier téléchargé avec `territory import`."
)


def departement_url(code: str, base_url: str = GEO_API_URL) -> str:
    return f"{base_url.rstrip('/')}/departements/{code}/communes"


def fetch_departement(
    code: str,
    *,
    base_url: str = GEO_API_URL,
    client: httpx.Client | None = None,
    timeout: float = 20.0,
    attempts: int = 3,
    retry_wait: float = 0.3,
    save_to: Path | None = None,
) -> list[CommuneRecord]:
    """The validated communes of département ``code`` ('23', '2A', '974').

    ``client`` lets tests (or a proxy set-up) inject an httpx.Client; otherwise one is
    made with ``timeout``. Connect errors and connect timeouts are retried
    ``attempts`` times in all, waiting ``retry_wait`` s, then twice as long.
    ``save_to`` keeps the raw answer (re-importable with ``territory import``).
    Raises TerritoryFetchError (network, HTTP, unreadable answer) or
    TerritoryImportError (an answer with invalid communes).
    """
    code = code.strip().upper()
    if len(code) == 1 and code.isdigit():
        code = "0" + code
    if code not in DEPARTEMENTS:
        raise TerritoryFetchError(
            f"'{code}' is not a département code",
            f"« {code} » n'est pas un code de département (ex. 23, 2A, 974)",
        )
    url = departement_url(code, base_url)
    host = httpx.URL(url).host or base_url
    params = {"fields": FIELDS, "format": "json"}
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True)
    try:
        retrying = Retrying(
            retry=retry_if_exception_type((httpx.ConnectError, httpx.ConnectTimeout)),
            stop=stop_after_attempt(max(1, attempts)),
            wait=wait_exponential(multiplier=retry_wait, min=retry_wait, max=max(retry_wait, 8 * retry_wait)),
            reraise=True,
        )
        response = retrying(http.get, url, params=params)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        log.info("geo.api fetch of département %s: cannot connect to %s (%s)", code, host, exc.__class__.__name__)
        raise TerritoryFetchError(
            f"cannot reach {host}: {exc.__class__.__name__}", _OFFLINE_FR.format(host=host)
        ) from None
    except httpx.TimeoutException as exc:
        log.info("geo.api fetch of département %s: timeout (%s)", code, exc.__class__.__name__)
        raise TerritoryFetchError(
            f"{host} did not answer in time ({exc.__class__.__name__})",
            f"{host} n'a pas répondu à temps : réessayez plus tard, "
            "ou importez un fichier téléchargé avec `territory import`.",
        ) from None
    except httpx.HTTPError as exc:
        log.info("geo.api fetch of département %s failed: %s", code, exc.__class__.__name__)
        raise TerritoryFetchError(
            f"download from {host} failed: {exc.__class__.__name__}",
            f"Le téléchargement depuis {host} a échoué ({exc.__class__.__name__}) : "
            "réessayez, ou importez un fichier téléchargé avec `territory import`.",
        ) from None
    finally:
        if own_client:
            http.close()

    if response.status_code == 404:
        raise TerritoryFetchError(
            f"{host} does not know département {code} (HTTP 404)",
            f"{host} ne connaît pas le département {code} (réponse 404).",
        )
    if response.status_code != 200:
        log.info("geo.api fetch of département %s: HTTP %s", code, response.status_code)
        raise TerritoryFetchError(
            f"{host} answered HTTP {response.status_code}",
            f"{host} a répondu par une erreur {response.status_code} : réessayez plus tard, "
            "ou importez un fichier téléchargé avec `territory import`.",
        )

    source = f"{host} (département {code})"
    try:
        text = response.content.decode("utf-8-sig")
        answer = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.info("geo.api fetch of département %s: unreadable answer (%s)", code, exc.__class__.__name__)
        raise TerritoryFetchError(
            f"unreadable answer from {host} (not JSON)",
            f"Réponse illisible de {host} (ce n'est pas du JSON) : réessayez plus tard, "
            "ou importez un fichier téléchargé avec `territory import`.",
        ) from None
    if not isinstance(answer, list) or not answer:
        raise TerritoryFetchError(
            f"unexpected answer from {host}: no list of communes",
            f"Réponse inattendue de {host} : aucune liste de communes.",
        )
    parsed = parse_geo_json(text, source)  # row errors: TerritoryImportError naming the element
    communes = [record for record in parsed.records if isinstance(record, CommuneRecord)]
    strangers = sorted({c.departement for c in communes} - {code})
    if strangers:
        raise TerritoryFetchError(
            f"answer for département {code} holds communes of {', '.join(strangers)}",
            f"la réponse pour le département {code} contient des communes "
            f"d'autres départements ({', '.join(strangers)})",
        )
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        save_to.write_bytes(response.content)
    log.info("geo.api: %d communes fetched for département %s", len(communes), code)
    return communes
