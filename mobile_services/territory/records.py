"""Validated rows of territory data, whatever file or generator they came from.

Records are immutable pydantic models. Their validators are lenient about how a
spreadsheet writes a value (``46,12`` or ``46.12``, ``1 394``, ``Mardi``, ``oui``) and
strict about what it means (a 5-character INSEE code, coordinates in France, a known
skill). Every failure is a ``PydanticCustomError`` whose context carries the French
wording (key ``fr``), so that :func:`row_errors` can build bilingual
:class:`~mobile_services.territory.errors.RowError` objects.

Cross-record rules (duplicates, references between files and the database) live in
:meth:`TerritoryData.problems`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mobile_services.territory.errors import RowError
from mobile_services.territory.vocabulary import (
    SITE_KINDS,
    SKILLS,
    TRAVEL_MODES,
    VEHICLE_KINDS,
    fold,
    non_gsm7,
    parse_bool,
    site_kind_code,
    skill_code,
    weekday_index,
)

# --------------------------------------------------------------------------- helpers


def problem(kind: str, english: str, french: str, **context: Any) -> PydanticCustomError:
    """A validation error with an English and a French template sharing ``context``."""
    return PydanticCustomError(kind, english, {**context, "fr": french})


def _short(value: Any, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("integer", "must be an integer", "doit être un nombre entier")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        compact = re.sub(r"[\s\u00a0\u202f]", "", value)
        if re.fullmatch(r"[+-]?\d+", compact):
            return int(compact)
    raise problem(
        "integer",
        "must be an integer, got '{value}'",
        "doit être un nombre entier (lu : « {value} »)",
        value=_short(value),
    )


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("number", "must be a number", "doit être un nombre")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        compact = re.sub(r"[\s\u00a0\u202f]", "", value).replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", compact):
            raise problem(
                "number",
                "must be a number (e.g. 46.12), got '{value}'",
                "doit être un nombre (ex. 46,12), lu : « {value} »",
                value=_short(value),
            )
        number = float(compact)
    else:
        raise problem("number", "must be a number", "doit être un nombre")
    if not math.isfinite(number):
        raise problem("number", "must be a finite number", "doit être un nombre fini")
    return number


def _population(value: Any) -> Any:
    try:
        number = _integer(value)
    except PydanticCustomError:
        number = None
    if number is None or number < 0:
        raise problem(
            "population",
            "must be a non-negative integer, got '{value}'",
            "doit être un entier positif (lu : « {value} »)",
            value=_short(value),
        )
    return number


def _fragility(value: Any) -> Any:
    if value is None:
        return None
    number = _number(value)
    if not 0 <= number <= 1:
        raise problem(
            "fragility",
            "must be between 0 and 1, got {value}",
            "doit être compris entre 0 et 1 (lu : {value})",
            value=number,
        )
    return number


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int):
        parsed = parse_bool(str(value))
        if parsed is not None:
            return parsed
    raise problem(
        "boolean", "must be yes or no, got '{value}'", "doit valoir oui ou non (lu : « {value} »)", value=_short(value)
    )


def _words(value: Any) -> Any:
    """A list from a cell: 'caf, ameli ants' -> ['caf', 'ameli', 'ants']."""
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,;|/+]+", value) if part]
    return value


def _pipe_list(value: Any) -> Any:
    """A list of phrases from a cell: 'carte Vitale | RIB' -> ['carte Vitale', 'RIB']."""
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


def _minute_of_day(value: Any) -> Any:
    """'08:30', '8h30', '8h' or a number of minutes -> minutes since midnight."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2})\s*[:hH]\s*(\d{2})?\s*", value)
        if match:
            hours, minutes = int(match.group(1)), int(match.group(2) or 0)
            if hours <= 24 and minutes < 60 and hours * 60 + minutes <= 24 * 60:
                return hours * 60 + minutes
        raise problem(
            "time_of_day",
            "must be a time of day like 08:30, got '{value}'",
            "doit être une heure comme 08:30 (lu : « {value} »)",
            value=_short(value),
        )
    return _integer(value)


def _weekday(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
    elif isinstance(value, str):
        index = weekday_index(value)
        if index is not None:
            return index
    raise problem(
        "weekday",
        "must be a French weekday name (lundi ... dimanche), got '{value}'",
        "doit être un jour de la semaine (lundi … dimanche), lu : « {value} »",
        value=_short(value),
    )


# --------------------------------------------------------------------------- INSEE codes and places

_INSEE_RE = re.compile(r"(?:0[1-9]|[1-8]\d|9[0-5]|2[AB])\d{3}|97[1-46]\d{2}")
_POSTCODE_RE = re.compile(r"\d{5}")


def departement_of(insee_code: str) -> str:
    """'23001' -> '23', '2A004' -> '2A', '97411' -> '974'."""
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


def _insee(value: Any) -> Any:
    if isinstance(value, str):
        code = value.strip().upper()
        if _INSEE_RE.fullmatch(code) and not code.startswith("20"):
            return code
        if re.fullmatch(r"\d{4}", code):
            raise problem(
                "insee_code",
                "'{value}' has 4 digits: did a spreadsheet drop a leading zero (e.g. 01001)?",
                "« {value} » n'a que 4 chiffres : le tableur a-t-il supprimé un zéro initial (ex. 01001) ? "
                "Formatez la colonne en texte",
                value=_short(value),
            )
        if code.startswith("20") and len(code) == 5:
            raise problem(
                "insee_code",
                "'{value}' is not an INSEE code: Corsican codes start with 2A or 2B",
                "« {value} » n'est pas un code INSEE : les codes corses commencent par 2A ou 2B",
                value=_short(value),
            )
    raise problem(
        "insee_code",
        "'{value}' is not an INSEE commune code (5 characters, e.g. 23001, 2A004, 97411)",
        "« {value} » n'est pas un code INSEE de commune (5 caractères, ex. 23001, 2A004, 97411)",
        value=_short(value),
    )


def _postcode(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:05d}"
    if isinstance(value, str) and _POSTCODE_RE.fullmatch(value.strip()):
        return value.strip()
    raise problem(
        "postcode",
        "'{value}' is not a postcode (5 digits)",
        "« {value} » n'est pas un code postal (5 chiffres)",
        value=_short(value),
    )


#: Bounding boxes (lat min, lat max, lon min, lon max) of the zones a commune can lie in.
ZONES: dict[str, tuple[float, float, float, float]] = {
    "métropole": (41.3, 51.15, -5.3, 9.6),
    "971": (15.8, 16.55, -61.85, -60.95),  # Guadeloupe
    "972": (14.35, 14.9, -61.25, -60.8),  # Martinique
    "973": (2.1, 5.8, -54.65, -51.6),  # Guyane
    "974": (-21.4, -20.85, 55.2, 55.85),  # La Réunion
    "976": (-13.05, -12.6, 44.95, 45.35),  # Mayotte
}


def _in_zone(zone: str, latitude: float, longitude: float) -> bool:
    lat_min, lat_max, lon_min, lon_max = ZONES[zone]
    return lat_min <= latitude <= lat_max and lon_min <= longitude <= lon_max


def zone_of(departement: str) -> str:
    return departement if departement in ZONES else "métropole"


def check_position(latitude: float, longitude: float, *, departement: str | None, field: str = "latitude") -> None:
    """Raise unless the point lies in France (in the zone of ``departement`` when known)."""
    zones = [zone_of(departement)] if departement else list(ZONES)
    if any(_in_zone(zone, latitude, longitude) for zone in zones):
        return
    context = {"lat": latitude, "lon": longitude, "field": field}
    if any(_in_zone(zone, longitude, latitude) for zone in zones):
        raise problem(
            "position",
            "position ({lat}, {lon}) is outside France: latitude and longitude swapped?",
            "position ({lat} ; {lon}) hors de France : latitude et longitude inversées ?",
            **context,
        )
    if departement and any(_in_zone(zone, latitude, longitude) for zone in ZONES):
        raise problem(
            "position",
            "position ({lat}, {lon}) is not in the zone of département {dep}",
            "position ({lat} ; {lon}) hors de la zone du département {dep}",
            dep=departement,
            **context,
        )
    raise problem(
        "position",
        "position ({lat}, {lon}) is outside France (expected decimal degrees, e.g. 46.08 and 2.02)",
        "position ({lat} ; {lon}) hors de France (attendu des degrés décimaux, ex. 46,08 et 2,02)",
        **context,
    )


# --------------------------------------------------------------------------- contours

CONTOUR_KINDS = ("Polygon", "MultiPolygon")
#: How far (degrees, about 2 km) a commune's centre may lie outside its contour's bounding box.
CONTOUR_MARGIN_DEGREES = 0.02


def _contour_error(english: str, french: str, **context: Any) -> PydanticCustomError:
    return problem("contour", english, french, **context)


def _position(value: Any, where: str) -> list[float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) not in (2, 3)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise _contour_error(
            "{where}: a position must be [longitude, latitude] in decimal degrees, got {value}",
            "{where} : une position doit être [longitude, latitude] en degrés décimaux (lu : {value})",
            where=where,
            value=_short(json.dumps(value) if isinstance(value, list | tuple | dict) else value),
        )
    longitude, latitude = float(value[0]), float(value[1])
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
        raise _contour_error(
            "{where}: position [{lon}, {lat}] is not [longitude, latitude] in degrees",
            "{where} : la position [{lon}, {lat}] n'est pas [longitude, latitude] en degrés",
            where=where,
            lon=longitude,
            lat=latitude,
        )
    return [longitude, latitude]


def _polygon(value: Any, where: str) -> list[list[list[float]]]:
    if not isinstance(value, list) or not value:
        raise _contour_error(
            "{where}: a polygon is a non-empty list of rings",
            "{where} : un polygone est une liste non vide d'anneaux (listes de positions)",
            where=where,
        )
    rings = []
    for index, ring in enumerate(value, 1):
        ring_where = f"{where}, anneau {index}"
        if not isinstance(ring, list) or len(ring) < 4:
            raise _contour_error(
                "{where}: a ring needs at least 4 positions",
                "{where} : un anneau doit avoir au moins 4 positions",
                where=ring_where,
            )
        positions = [_position(position, ring_where) for position in ring]
        if positions[0] != positions[-1]:
            raise _contour_error(
                "{where}: the ring is not closed (first and last positions differ)",
                "{where} : l'anneau n'est pas fermé (première et dernière positions différentes)",
                where=ring_where,
            )
        rings.append(positions)
    return rings


def _contour(value: Any) -> Any:
    """A GeoJSON Polygon or MultiPolygon geometry (geo.api.gouv.fr's ``contour``), normalised.

    Positions keep longitude and latitude (an altitude is dropped); rings must be closed.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping) or "type" not in value or "coordinates" not in value:
        raise _contour_error(
            "must be a GeoJSON geometry with 'type' and 'coordinates'",
            "doit être une géométrie GeoJSON avec « type » et « coordinates » (Polygon ou MultiPolygon)",
        )
    kind = value["type"]
    if kind not in CONTOUR_KINDS:
        raise _contour_error(
            "type '{value}' is not Polygon or MultiPolygon",
            "type « {value} » : attendu Polygon ou MultiPolygon",
            value=_short(kind),
        )
    coordinates = value["coordinates"]
    if kind == "Polygon":
        return {"type": kind, "coordinates": _polygon(coordinates, "polygone")}
    if not isinstance(coordinates, list) or not coordinates:
        raise _contour_error(
            "a MultiPolygon needs a non-empty list of polygons",
            "un MultiPolygon doit contenir une liste non vide de polygones",
        )
    return {
        "type": kind,
        "coordinates": [_polygon(polygon, f"polygone {index}") for index, polygon in enumerate(coordinates, 1)],
    }


def contour_positions(contour: Mapping[str, Any]) -> Iterator[list[float]]:
    """Every [longitude, latitude] of a normalised contour."""
    polygons = [contour["coordinates"]] if contour["type"] == "Polygon" else contour["coordinates"]
    for polygon in polygons:
        for ring in polygon:
            yield from ring


def check_contour(contour: Mapping[str, Any], latitude: float, longitude: float, *, departement: str) -> None:
    """Raise unless the contour lies in the département's zone and around the commune's centre."""
    zone = zone_of(departement)
    lon_min = lat_min = math.inf
    lon_max = lat_max = -math.inf
    for lon, lat in contour_positions(contour):
        if not _in_zone(zone, lat, lon):
            raise _contour_error(
                "position [{lon}, {lat}] of the contour is outside the zone of département {dep}",
                "la position [{lon}, {lat}] du contour est hors de la zone du département {dep} "
                "(attendu [longitude, latitude])",
                lon=lon,
                lat=lat,
                dep=departement,
                field="contour",
            )
        lon_min, lon_max = min(lon_min, lon), max(lon_max, lon)
        lat_min, lat_max = min(lat_min, lat), max(lat_max, lat)
    margin = CONTOUR_MARGIN_DEGREES
    if not (lat_min - margin <= latitude <= lat_max + margin and lon_min - margin <= longitude <= lon_max + margin):
        raise _contour_error(
            "the commune's centre ({lat}, {lon}) is outside its contour: the contour of another commune?",
            "le centre de la commune ({lat} ; {lon}) est hors de son contour : contour d'une autre commune ?",
            lat=latitude,
            lon=longitude,
            field="contour",
        )


def _phone(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            number = phonenumbers.parse(value, "FR")
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # The value is personal data: never echo it in messages that reach logs.
    raise problem(
        "phone", "is not a valid phone number", "n'est pas un numéro de téléphone valide (ex. 06 12 34 56 78)"
    )


_DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
#: a leave longer than this is a typo (a year typed wrong), not a holiday
_MAX_LEAVE_DAYS = 120


def _one_day(text: str) -> date:
    for pattern in _DAY_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise problem(
        "leave", "unreadable date '{text}'", "date illisible « {text} » (attendu par ex. 2026-12-14 ou 14/12/2026)",
        text=_short(text),
    )


def _leave_days(value: Any) -> Any:
    """Leave dates from a cell: '2026-12-14..2026-12-18 24/12/2026' -> every day, sorted.

    A range is two dates joined by '..' or ' au ' (both included); dates and ranges are
    separated by spaces, ',' or '|' (';' too when the file uses another delimiter).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if not isinstance(value, str):
        return value
    days: set[date] = set()
    text = re.sub(r"\s*\.\.\s*|\s+au\s+", "..", value.strip())
    for part in (p for p in re.split(r"[\s,;|]+", text) if p):
        bounds = part.split("..")
        if len(bounds) > 2:
            raise problem("leave", "unreadable range '{text}'", "période illisible « {text} »", text=_short(part))
        first, last = _one_day(bounds[0]), _one_day(bounds[-1])
        if last < first:
            raise problem(
                "leave", "range '{text}' ends before it starts", "la période « {text} » finit avant de commencer",
                text=_short(part),
            )
        if (last - first).days >= _MAX_LEAVE_DAYS:
            raise problem(
                "leave", "range '{text}' is longer than {days} days", "la période « {text} » dépasse {days} jours",
                text=_short(part), days=_MAX_LEAVE_DAYS,
            )
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return sorted(days)


# --------------------------------------------------------------------------- opening hours

_SPAN_RE = re.compile(r"(\d{1,2})(?:[:hH](\d{2})?)?\s*(?:-|–|à)\s*(\d{1,2})(?:[:hH](\d{2})?)?")
_CLOSED = {"", "ferme", "fermé", "-", "—", "x"}

Span = tuple[str, str]


def _hhmm(hours: int, minutes: int) -> str:
    return f"{hours:02d}:{minutes:02d}"


def parse_spans(text: str) -> list[Span]:
    """'9h-12h, 14:00-17:30' -> [('09:00', '12:00'), ('14:00', '17:30')]; '' or 'fermé' -> []."""
    if text.strip().lower() in _CLOSED:
        return []
    spans: list[tuple[int, int]] = []
    for match in _SPAN_RE.finditer(text):
        h1, m1, h2, m2 = (int(group) if group else 0 for group in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or end > 24 * 60:
            raise problem(
                "opening_hours",
                "'{value}' is not a valid time range",
                "« {value} » n'est pas une plage horaire valide",
                value=_short(match.group(0)),
            )
        if end <= start:
            raise problem(
                "opening_hours",
                "time range '{value}' ends before it starts",
                "la plage « {value} » finit avant de commencer",
                value=_short(match.group(0)),
            )
        spans.append((start, end))
    leftover = re.sub(r"(?:\bet\b|[\s,;/+&])", "", _SPAN_RE.sub("", text))
    if not spans or leftover:
        raise problem(
            "opening_hours",
            "unreadable opening hours '{value}' (expected e.g. 09:00-12:00 14:00-17:00)",
            "horaires illisibles « {value} » (attendu par ex. 09:00-12:00 14:00-17:00)",
            value=_short(text),
        )
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise problem("opening_hours", "time ranges overlap", "des plages horaires se chevauchent")
    return [(_hhmm(*divmod(s, 60)), _hhmm(*divmod(e, 60))) for s, e in spans]


def _spans(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return parse_spans(value)
    return value


def _week(value: Any) -> Any:
    """Opening hours as {weekday: spans}; keys 0..6 or French names; or 'lun 9h-12h; jeu 14h-17h'."""
    if isinstance(value, str):
        week: dict[int, Any] = {}
        for part in filter(None, (chunk.strip() for chunk in value.split(";"))):
            day, _, spans = part.partition(" ")
            index = weekday_index(day)
            if index is None:
                raise problem(
                    "opening_hours",
                    "'{value}' does not start with a weekday",
                    "« {value} » ne commence pas par un jour de la semaine",
                    value=_short(part),
                )
            week[index] = spans
        return week
    if isinstance(value, Mapping):
        normalised: dict[Any, Any] = {}
        for key, spans in value.items():
            index = _weekday(int(key) if isinstance(key, str) and key.isdigit() else key)
            normalised[index] = spans
        return normalised
    return value


# --------------------------------------------------------------------------- annotated types

Text = Annotated[str, BeforeValidator(_text)]
Integer = Annotated[int, BeforeValidator(_integer)]
Number = Annotated[float, BeforeValidator(_number)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Minute = Annotated[int, BeforeValidator(_minute_of_day), Field(ge=0, le=24 * 60)]
InseeCode = Annotated[str, BeforeValidator(_insee)]
Postcode = Annotated[str, BeforeValidator(_postcode)]
Weekday = Annotated[int, BeforeValidator(_weekday)]
Spans = Annotated[list[tuple[str, str]], BeforeValidator(_spans)]


def _known(
    lookup: Callable[[str], str | None], choices: Iterable[str], what_en: str, unknown_fr: str
) -> Callable[[Any], Any]:
    listed = ", ".join(choices)

    def validate(value: Any) -> Any:
        if isinstance(value, str):
            code = lookup(value)
            if code is not None:
                return code
        raise problem(
            "unknown_" + what_en.replace(" ", "_"),
            f"unknown {what_en} '{{value}}' (expected one of: {listed})",
            f"{unknown_fr} « {{value}} » (valeurs possibles : {listed})",
            value=_short(value),
        )

    return validate


def _skill_list(value: Any) -> Any:
    """'caf, France Travail ameli' -> ['caf', 'France Travail', 'ameli']: commas first, then spaces."""
    if not isinstance(value, str):
        return value
    items: list[str] = []
    for part in re.split(r"[,;|/+]+", value):
        words = part.split()
        start = 0
        while start < len(words):  # longest run of words naming a skill ("France Travail")
            end = next(
                (e for e in range(len(words), start + 1, -1) if skill_code(" ".join(words[start:e])) is not None),
                start + 1,
            )
            items.append(" ".join(words[start:end]))
            start = end
    return items


def _service_code(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9_]{2,40}", value.strip()):
        return value.strip()
    raise problem(
        "service_code",
        "'{value}' is not a service code (2-40 lower-case letters, digits, _)",
        "« {value} » n'est pas un code de service (2 à 40 lettres minuscules sans accent, chiffres et _)",
        value=_short(value),
    )


def _mode(text: str) -> str | None:
    return TRAVEL_MODES.get(fold(text))


Skill = Annotated[str, BeforeValidator(_known(skill_code, SKILLS, "skill", "compétence inconnue"))]
SiteKind = Annotated[str, BeforeValidator(_known(site_kind_code, SITE_KINDS, "site kind", "type de lieu inconnu"))]
TravelMode = Annotated[
    Literal["bus", "car"],
    BeforeValidator(_known(_mode, ("bus", "voiture"), "travel mode", "mode de déplacement inconnu")),
]
VehicleKind = Annotated[
    Literal["bus", "car"],
    BeforeValidator(
        _known(lambda v: VEHICLE_KINDS.get(fold(v)), ("bus", "voiture"), "vehicle kind", "type de véhicule inconnu")
    ),
]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Origin:
    """Where a record was read: file name, physical line, JSON element index.

    ``columns`` maps record field names to the names the file uses (CSV header as
    written, JSON key), so that later errors (duplicates, database) name the column
    the coordinator sees.
    """

    file: str
    line: int | None = None
    item: int | None = None
    columns: Mapping[str, str] | None = field(default=None, compare=False, hash=False)

    def column(self, name: str) -> str:
        return (self.columns or {}).get(name, name)

    def error(self, field_name: str | None, english: str, french: str) -> RowError:
        return RowError(
            file=self.file,
            line=self.line,
            item=self.item,
            field=self.column(field_name) if field_name else None,
            reason=english,
            reason_fr=french,
        )


class Record(BaseModel):
    """Base of the row models: immutable, unknown fields refused, origin kept aside."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    kind: ClassVar[str]
    _origin: Origin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> Origin | None:
        return self._origin

    def located(self, origin: Origin) -> Record:
        """This record, remembering where it was read (returns self)."""
        self._origin = origin
        return self

    def __eq__(self, other: object) -> bool:  # the origin is not part of the value
        return type(self) is type(other) and self.model_dump() == other.model_dump()  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]


class CommuneRecord(Record):
    """A commune: INSEE code, name, postcodes, population, centre, digital fragility."""

    kind: ClassVar[str] = "commune"

    insee_code: InseeCode
    name: Text = Field(min_length=1, max_length=200)
    postcodes: Annotated[list[Postcode], BeforeValidator(_words)] = Field(default_factory=list)
    population: Annotated[int, BeforeValidator(_population)]
    latitude: Number
    longitude: Number
    #: 0 (none) .. 1 (very fragile); None = not given (the database keeps its value, 0.5 for a new commune)
    fragility: Annotated[float | None, BeforeValidator(_fragility)] = None
    #: GeoJSON Polygon or MultiPolygon (geo.api.gouv.fr ``contour``); None = not given (the database keeps its own)
    contour: Annotated[dict[str, Any] | None, BeforeValidator(_contour)] = None

    @field_validator("longitude")
    @classmethod
    def _in_france(cls, longitude: float, info: ValidationInfo) -> float:
        latitude = info.data.get("latitude")
        if latitude is not None:
            code = info.data.get("insee_code")
            check_position(latitude, longitude, departement=departement_of(code) if code else None)
        return longitude

    @model_validator(mode="after")
    def _contour_around_centre(self) -> CommuneRecord:
        if self.contour is not None:
            check_contour(self.contour, self.latitude, self.longitude, departement=self.departement)
        return self

    @property
    def departement(self) -> str:
        return departement_of(self.insee_code)


class SiteRecord(Record):
    """A place where a bus parks or a counsellor sits, with its weekly opening hours."""

    kind: ClassVar[str] = "site"

    commune_insee: InseeCode
    name: Text = Field(min_length=1, max_length=200)
    site_kind: SiteKind = "mairie"
    address: Text = Field("", max_length=300)
    #: None = at the commune's centre
    latitude: Number | None = None
    longitude: Number | None = None
    #: {0: [("09:00", "12:00"), ("14:00", "17:00")], 3: [...]}: 0 = Monday; days absent are closed
    opening_hours: Annotated[dict[Weekday, Spans], BeforeValidator(_week)] = Field(default_factory=dict)
    market_day: Weekday | None = None
    accessible: Boolean = True
    has_power: Boolean = False
    bus_parking: Boolean = True

    @model_validator(mode="after")
    def _check(self) -> SiteRecord:
        if (self.latitude is None) != (self.longitude is None):
            raise problem(
                "position",
                "give both latitude and longitude, or neither (the commune centre is used)",
                "indiquez latitude et longitude, ou aucune des deux (le centre de la commune est alors utilisé)",
                field="latitude" if self.latitude is None else "longitude",
            )
        if self.latitude is not None and self.longitude is not None:
            check_position(self.latitude, self.longitude, departement=departement_of(self.commune_insee))
        hours = {day: spans for day, spans in sorted(self.opening_hours.items()) if spans}
        if not hours:
            raise problem(
                "opening_hours",
                "no opening hours on any day (give at least one range, e.g. 09:00-12:00)",
                "aucun horaire d'ouverture (indiquez au moins une plage, ex. 09:00-12:00)",
                field="opening_hours",
            )
        object.__setattr__(self, "opening_hours", hours)
        return self

    def opening_hours_json(self) -> dict[str, list[list[str]]]:
        """The form stored in ``site.opening_hours``: {"0": [["09:00", "12:00"]]}."""
        return {str(day): [list(span) for span in spans] for day, spans in self.opening_hours.items()}


class VehicleRecord(Record):
    """A bus with desks kept at a depot, or a counsellor's car."""

    kind: ClassVar[str] = "vehicle"

    name: Text = Field(min_length=1, max_length=100)
    vehicle_kind: VehicleKind = "bus"
    depot_commune_insee: InseeCode
    depot_name: Text = Field("", max_length=200)
    depot_latitude: Number | None = None
    depot_longitude: Number | None = None
    desks: Integer = Field(2, ge=1, le=6)
    shift_start_minute: Minute = 8 * 60 + 30
    shift_end_minute: Minute = 17 * 60 + 30
    max_driving_minutes: Integer = Field(240, ge=0, le=720)
    speed_kmh: Number = Field(50.0, ge=10, le=130)
    cost_per_km: Number = Field(0.6, ge=0, le=10)
    co2_g_per_km: Number = Field(280.0, ge=0, le=2000)
    equipment: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\s,;|/+]+$")]], BeforeValidator(_words)
    ] = Field(default_factory=list)
    active: Boolean = True

    @model_validator(mode="after")
    def _check(self) -> VehicleRecord:
        if self.shift_end_minute <= self.shift_start_minute:
            raise problem(
                "shift",
                "the shift must end after it starts",
                "la fin de service doit suivre le début",
                field="shift_end_minute",
            )
        if (self.depot_latitude is None) != (self.depot_longitude is None):
            raise problem(
                "position",
                "give both depot latitude and longitude, or neither",
                "indiquez latitude et longitude du dépôt, ou aucune des deux",
                field="depot_latitude",
            )
        if self.depot_latitude is not None and self.depot_longitude is not None:
            check_position(
                self.depot_latitude,
                self.depot_longitude,
                departement=departement_of(self.depot_commune_insee),
                field="depot_latitude",
            )
        return self


class CounsellorRecord(Record):
    """A counsellor: skills, weekdays off, home, riding a bus or driving a car."""

    kind: ClassVar[str] = "counsellor"

    name: Text = Field(min_length=1, max_length=200)
    phone: Annotated[str | None, BeforeValidator(_phone)] = None
    home_commune_insee: InseeCode
    home_latitude: Number | None = None
    home_longitude: Number | None = None
    skills: Annotated[list[Skill], BeforeValidator(_skill_list)] = Field(min_length=1)
    days_off: Annotated[list[Weekday], BeforeValidator(_words)] = Field(default_factory=list)
    #: days of leave (whole days): the planner gives the counsellor no route on them
    leave_days: Annotated[list[date], BeforeValidator(_leave_days)] = Field(default_factory=list)
    travel_mode: TravelMode = "bus"
    #: name of the bus usually ridden (travel_mode bus) or of the counsellor's car (travel_mode car)
    vehicle: Text | None = Field(None, max_length=100)
    active: Boolean = True

    @model_validator(mode="after")
    def _check(self) -> CounsellorRecord:
        object.__setattr__(self, "skills", sorted(set(self.skills), key=list(SKILLS).index))
        object.__setattr__(self, "days_off", sorted(set(self.days_off)))
        if all(day in self.days_off for day in range(5)):
            raise problem(
                "days_off",
                "every weekday from Monday to Friday is a day off",
                "tous les jours du lundi au vendredi sont des jours de repos",
                field="days_off",
            )
        if (self.home_latitude is None) != (self.home_longitude is None):
            raise problem(
                "position",
                "give both home latitude and longitude, or neither",
                "indiquez latitude et longitude du domicile, ou aucune des deux",
                field="home_latitude",
            )
        if self.home_latitude is not None and self.home_longitude is not None:
            check_position(
                self.home_latitude,
                self.home_longitude,
                departement=departement_of(self.home_commune_insee),
                field="home_latitude",
            )
        if self.vehicle == "":
            object.__setattr__(self, "vehicle", None)
        return self


class ServiceRecord(Record):
    """A motif a resident can book, with its duration, skill and documents to bring."""

    kind: ClassVar[str] = "service"

    code: Annotated[str, BeforeValidator(_service_code)]
    label: Text = Field(min_length=1, max_length=200)
    short_label: Text = Field(min_length=1, max_length=40)
    operator: Text = Field("", max_length=80)
    duration_minutes: Integer = Field(30, ge=5, le=480)
    required_skill: Skill | None = None
    documents: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^|]+$")]], BeforeValidator(_pipe_list)
    ] = Field(default_factory=list)
    is_group: Boolean = False
    group_capacity: Integer = Field(1, ge=1, le=50)

    @model_validator(mode="after")
    def _check(self) -> ServiceRecord:
        bad = non_gsm7(self.short_label)
        if bad:
            raise problem(
                "gsm7",
                "characters {chars} are not in the GSM-7 SMS alphabet (they would halve the SMS length)",
                "les caractères {chars} ne font pas partie de l'alphabet SMS GSM-7 (ils réduiraient le SMS de moitié)",
                chars=" ".join(bad),
                field="short_label",
            )
        if self.is_group and self.group_capacity < 2:
            raise problem(
                "group_capacity",
                "a group service needs a capacity of at least 2",
                "un service collectif doit accueillir au moins 2 personnes",
                field="group_capacity",
            )
        if not self.is_group and self.group_capacity != 1:
            raise problem(
                "group_capacity",
                "an individual service has a capacity of 1",
                "un service individuel a une capacité de 1",
                field="group_capacity",
            )
        return self


# --------------------------------------------------------------------------- pydantic errors -> RowError

#: French wording of the pydantic built-in errors our models can raise.
_BUILTIN_FR: dict[str, str] = {
    "missing": "valeur obligatoire manquante",
    "string_too_short": "ne doit pas être vide",
    "string_too_long": "trop long ({max_length} caractères au plus)",
    "too_short": "doit contenir au moins {min_length} valeur(s)",
    "too_long": "trop de valeurs ({max_length} au plus)",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "greater_than": "doit être supérieur à {gt}",
    "less_than": "doit être inférieur à {lt}",
    "string_pattern_mismatch": "format invalide (séparateur dans une valeur ?)",
    "extra_forbidden": "champ inconnu",
    "int_type": "doit être un nombre entier",
    "int_parsing": "doit être un nombre entier",
    "float_type": "doit être un nombre",
    "float_parsing": "doit être un nombre",
    "bool_type": "doit valoir oui ou non",
    "bool_parsing": "doit valoir oui ou non",
    "string_type": "doit être du texte",
    "list_type": "doit être une liste",
    "dict_type": "doit être un objet",
    "tuple_type": "doit être une paire début-fin",
    "literal_error": "valeur non reconnue (attendu : {expected})",
}


def _reason_fr(error: Mapping[str, Any]) -> str:
    context = dict(error.get("ctx") or {})
    template = context.pop("fr", None) or _BUILTIN_FR.get(error["type"])
    if template is None:
        return f"valeur invalide ({error['msg']})"
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template


def row_errors(
    exc: ValidationError,
    origin: Origin,
    field_names: Callable[[tuple[Any, ...]], str | None] | Mapping[str, str] | None = None,
) -> list[RowError]:
    """Turn a pydantic ValidationError on one row into RowErrors.

    ``field_names`` maps a record field name (or an error location) to the name the
    file uses (a CSV column, a JSON key), so messages name what the user sees.
    """
    out: list[RowError] = []
    for error in exc.errors():
        location = tuple(error.get("loc") or ())
        context = error.get("ctx") or {}
        if "field" in context:
            location = (context["field"], *location)
        if callable(field_names):
            field = field_names(location)
        elif location:
            field = (field_names or {}).get(str(location[0]), str(location[0]))
        else:
            field = None
        english = error["msg"].removeprefix("Value error, ")
        out.append(
            RowError(
                file=origin.file,
                line=origin.line,
                item=origin.item,
                field=field,
                reason=english,
                reason_fr=_reason_fr(error),
            )
        )
    return out


# --------------------------------------------------------------------------- the bundle


class TerritoryData(BaseModel):
    """Everything one import brings: a territory's communes and resources, and services.

    ``departement`` defaults to the most frequent département of the communes.
    """

    model_config = ConfigDict(arbitrary_types_allowed=False)

    name: str | None = None
    departement: str | None = None
    communes: list[CommuneRecord] = Field(default_factory=list)
    sites: list[SiteRecord] = Field(default_factory=list)
    vehicles: list[VehicleRecord] = Field(default_factory=list)
    counsellors: list[CounsellorRecord] = Field(default_factory=list)
    services: list[ServiceRecord] = Field(default_factory=list)

    def main_departement(self) -> str | None:
        if self.departement:
            return self.departement
        counts = Counter(commune.departement for commune in self.communes)
        if not counts:
            return None
        return min(counts, key=lambda dep: (-counts[dep], dep))

    def departements(self) -> list[str]:
        return sorted({commune.departement for commune in self.communes})

    def counts(self) -> dict[str, int]:
        return {
            "communes": len(self.communes),
            "sites": len(self.sites),
            "vehicles": len(self.vehicles),
            "counsellors": len(self.counsellors),
            "services": len(self.services),
        }

    def problems(
        self,
        *,
        known_communes: Mapping[str, tuple[float, float]] | None = None,
        known_vehicles: Mapping[str, str] | None = None,
        max_site_distance_km: float = 30.0,
    ) -> list[RowError]:
        """Cross-record errors: duplicates, and references to communes and vehicles.

        ``known_communes`` (INSEE code -> (lat, lon)) and ``known_vehicles`` (name ->
        kind) are what the database already holds for the target territory.
        """
        errors: list[RowError] = []
        positions: dict[str, tuple[float, float]] = dict(known_communes or {})

        def error(record: Record, field_name: str, english: str, french: str) -> None:
            origin = record.origin or Origin(file=f"({record.kind})")
            errors.append(origin.error(field_name, english, french))

        def where(record: Record) -> str:
            origin = record.origin
            if origin is None:
                return ""
            if origin.line is not None:
                return f" ({origin.file}:{origin.line})"
            return f" ({origin.file})"

        def duplicates(
            records: Iterable[Record], key: Callable[[Any], Any], field_name: str, what_en: str, what_fr: str
        ) -> None:
            seen: dict[Any, Record] = {}
            for record in records:
                value = key(record)
                first = seen.setdefault(value, record)
                if first is not record:
                    shown = value if isinstance(value, str) else " / ".join(map(str, value))
                    error(
                        record,
                        field_name,
                        f"duplicate {what_en} '{shown}', first seen{where(first) or ' earlier'}",
                        f"{what_fr} « {shown} » en double, déjà vu{where(first) or ' plus haut'}",
                    )

        duplicates(self.communes, lambda c: c.insee_code, "insee_code", "INSEE code", "code INSEE")
        duplicates(self.sites, lambda s: (s.commune_insee, s.name), "name", "site", "lieu")
        duplicates(self.vehicles, lambda v: v.name, "name", "vehicle name", "nom de véhicule")
        duplicates(self.counsellors, lambda c: c.name, "name", "counsellor name", "nom de conseiller")
        duplicates(self.services, lambda s: s.code, "code", "service code", "code de service")

        for commune in self.communes:
            positions[commune.insee_code] = (commune.latitude, commune.longitude)

        def commune_exists(record: Record, code: str, field: str) -> bool:
            if code in positions:
                return True
            error(
                record,
                field,
                f"unknown commune {code}: import it first or in the same run",
                f"commune {code} inconnue : importez-la avant, ou dans le même import",
            )
            return False

        for site in self.sites:
            if not commune_exists(site, site.commune_insee, "commune_insee"):
                continue
            if site.latitude is not None and site.longitude is not None:
                distance = haversine_km(positions[site.commune_insee], (site.latitude, site.longitude))
                if distance > max_site_distance_km:
                    error(
                        site,
                        "latitude",
                        f"site {distance:.0f} km from the centre of commune {site.commune_insee}: wrong coordinates?",
                        f"lieu à {distance:.0f} km du centre de la commune {site.commune_insee} : "
                        "coordonnées erronées ?",
                    )
        for vehicle in self.vehicles:
            commune_exists(vehicle, vehicle.depot_commune_insee, "depot_commune_insee")
        vehicle_kinds = dict(known_vehicles or {})
        vehicle_kinds.update({vehicle.name: vehicle.vehicle_kind for vehicle in self.vehicles})
        for counsellor in self.counsellors:
            commune_exists(counsellor, counsellor.home_commune_insee, "home_commune_insee")
            if counsellor.vehicle is None:
                continue
            kind = vehicle_kinds.get(counsellor.vehicle)
            if kind is None:
                error(
                    counsellor,
                    "vehicle",
                    f"unknown vehicle '{counsellor.vehicle}'",
                    f"véhicule « {counsellor.vehicle} » inconnu",
                )
            elif kind != counsellor.travel_mode:
                error(
                    counsellor,
                    "vehicle",
                    f"vehicle '{counsellor.vehicle}' is a {kind}, the counsellor travels by {counsellor.travel_mode}",
                    f"le véhicule « {counsellor.vehicle} » est {'un bus' if kind == 'bus' else 'une voiture'} "
                    f"mais le déplacement indiqué est « {'bus' if counsellor.travel_mode == 'bus' else 'voiture'} »",
                )
        return errors


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
