"""Reading and writing territory files: geo.api.gouv.fr JSON and the documented CSV files.

The format is recognised from the content, never from the file name: a JSON array of
objects with ``nom``/``code``/``centre`` is a geo.api.gouv.fr communes answer; a CSV
file is recognised by its header (see FORMATS.md for every column). Files from French
spreadsheets are welcome: UTF-8 with or without BOM, Windows-1252, UTF-16, ``;``,
``,`` or tab separators, decimal commas, headers in any case with or without accents.

Every problem becomes a :class:`RowError` (file, line, field, reason); all the errors
of all the files are collected (up to ``MAX_ERRORS``) before one
:class:`TerritoryImportError` is raised.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mobile_services.territory.errors import MAX_ERRORS, RowError, TerritoryImportError, file_error
from mobile_services.territory.records import (
    CommuneRecord,
    CounsellorRecord,
    Origin,
    Record,
    ServiceRecord,
    SiteRecord,
    TerritoryData,
    VehicleRecord,
    row_errors,
)
from mobile_services.territory.vocabulary import WEEKDAYS_FR, fold

log = logging.getLogger(__name__)

GEO_JSON = "geo_json"
KIND_LABELS_FR = {
    GEO_JSON: "communes (geo.api.gouv.fr)",
    "communes": "communes",
    "sites": "lieux",
    "vehicles": "véhicules",
    "counsellors": "conseillers",
    "services": "services",
}


# --------------------------------------------------------------------------- CSV layouts


def _join(values: Iterable[Any]) -> str:
    return " ".join(str(value) for value in values)


def _number_cell(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _yes_no(value: bool) -> str:
    return "oui" if value else "non"


def _weekday_name(value: int | None) -> str:
    return "" if value is None else WEEKDAYS_FR[value]


@dataclass(frozen=True)
class Column:
    """One CSV column: its canonical name, the record field it fills, how to write it."""

    name: str
    field: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    write: Callable[[Any], str] = lambda value: "" if value is None else str(value)
    help_fr: str = ""


@dataclass(frozen=True)
class CsvLayout:
    kind: str
    record: type[Record]
    file_name: str
    columns: tuple[Column, ...]

    def by_header(self) -> dict[str, Column]:
        names: dict[str, Column] = {}
        for column in self.columns:
            for name in (column.name, *column.aliases):
                names[fold(name)] = column
        return names


def _spans_cell(day: int) -> Callable[[Any], str]:
    def write(hours: dict[int, list[tuple[str, str]]]) -> str:
        return " ".join(f"{start}-{end}" for start, end in hours.get(day, []))

    return write


COMMUNES = CsvLayout(
    "communes",
    CommuneRecord,
    "communes.csv",
    (
        Column("code_insee", "insee_code", True, ("insee", "code_commune", "code_commune_insee")),
        Column("nom", "name", True, ("commune", "nom_commune")),
        Column("codes_postaux", "postcodes", False, ("code_postal", "codes_postal", "cp"), _join),
        Column("population", "population", True, ("population_municipale", "pop"), str),
        Column("latitude", "latitude", True, ("lat",), _number_cell),
        Column("longitude", "longitude", True, ("lon", "lng"), _number_cell),
        Column("fragilite", "fragility", False, ("fragilite_numerique", "indice_fragilite"), _number_cell),
    ),
)

SITES = CsvLayout(
    "sites",
    SiteRecord,
    "sites.csv",
    (
        Column("code_insee", "commune_insee", True, ("insee", "code_commune")),
        Column("nom", "name", True, ("nom_lieu", "lieu")),
        Column("type", "site_kind", True, ("type_lieu",)),
        Column("adresse", "address", False),
        Column("latitude", "latitude", False, ("lat",), _number_cell),
        Column("longitude", "longitude", False, ("lon", "lng"), _number_cell),
        *(Column(day, "opening_hours", False, (day[:3],), _spans_cell(index)) for index, day in enumerate(WEEKDAYS_FR)),
        Column("jour_marche", "market_day", False, ("jour_de_marche", "marche"), _weekday_name),
        Column("accessible", "accessible", False, ("accessible_pmr", "pmr"), _yes_no),
        Column("electricite", "has_power", False, ("prise_electrique", "courant"), _yes_no),
        Column("stationnement_bus", "bus_parking", False, ("parking_bus",), _yes_no),
    ),
)

VEHICLES = CsvLayout(
    "vehicles",
    VehicleRecord,
    "vehicules.csv",
    (
        Column("nom", "name", True),
        Column("type", "vehicle_kind", True, ("type_vehicule",), lambda kind: "voiture" if kind == "car" else "bus"),
        Column("commune_depot", "depot_commune_insee", True, ("code_insee_depot", "depot_insee")),
        Column("nom_depot", "depot_name", False, ("depot",)),
        Column("latitude_depot", "depot_latitude", False, (), _number_cell),
        Column("longitude_depot", "depot_longitude", False, (), _number_cell),
        Column("postes", "desks", False, ("bureaux", "guichets"), str),
        Column("debut_service", "shift_start_minute", False, ("debut",), _hhmm),
        Column("fin_service", "shift_end_minute", False, ("fin",), _hhmm),
        Column("conduite_max_minutes", "max_driving_minutes", False, ("conduite_max",), str),
        Column("vitesse_kmh", "speed_kmh", False, ("vitesse",), _number_cell),
        Column("cout_km", "cost_per_km", False, ("cout_par_km",), _number_cell),
        Column("co2_g_km", "co2_g_per_km", False, ("co2",), _number_cell),
        Column("equipement", "equipment", False, ("equipements",), _join),
        Column("actif", "active", False, (), _yes_no),
    ),
)

COUNSELLORS = CsvLayout(
    "counsellors",
    CounsellorRecord,
    "conseillers.csv",
    (
        Column("nom", "name", True),
        Column("telephone", "phone", False, ("tel", "portable")),
        Column("commune_domicile", "home_commune_insee", True, ("code_insee_domicile", "domicile")),
        Column("latitude_domicile", "home_latitude", False, (), _number_cell),
        Column("longitude_domicile", "home_longitude", False, (), _number_cell),
        Column("competences", "skills", True, ("competence",), _join),
        Column(
            "jours_repos",
            "days_off",
            False,
            ("jours_off", "repos", "jours_de_repos"),
            lambda days: " ".join(WEEKDAYS_FR[day] for day in days),
        ),
        Column(
            "absences",
            "leave_days",
            False,
            ("conges", "indisponibilites"),
            lambda days: " ".join(day.isoformat() for day in days),
        ),
        Column(
            "deplacement",
            "travel_mode",
            False,
            ("mode_deplacement",),
            lambda mode: "voiture" if mode == "car" else "bus",
        ),
        Column("vehicule", "vehicle", False, ("bus", "voiture")),
        Column("actif", "active", False, (), _yes_no),
    ),
)

SERVICES = CsvLayout(
    "services",
    ServiceRecord,
    "services.csv",
    (
        Column("code", "code", True),
        Column("libelle", "label", True),
        Column("libelle_court", "short_label", True),
        Column("operateur", "operator", False),
        Column("duree_minutes", "duration_minutes", True, ("duree",), str),
        Column("competence", "required_skill", False),
        Column("documents", "documents", False, ("pieces", "documents_a_apporter"), lambda docs: " | ".join(docs)),
        Column("collectif", "is_group", False, (), _yes_no),
        Column("capacite", "group_capacity", False, ("capacite_groupe",), str),
    ),
)

LAYOUTS: tuple[CsvLayout, ...] = (COMMUNES, SITES, VEHICLES, COUNSELLORS, SERVICES)

#: How the geo.api.gouv.fr JSON keys map to CommuneRecord fields (for error messages).
GEO_JSON_FIELDS = {
    "insee_code": "code",
    "name": "nom",
    "postcodes": "codesPostaux",
    "population": "population",
    "latitude": "centre",
    "longitude": "centre",
    "contour": "contour",
}


# --------------------------------------------------------------------------- results


@dataclass
class ParsedFile:
    """The records of one file, the kind recognised, and non-blocking warnings."""

    name: str
    kind: str
    records: list[Record] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    @property
    def label_fr(self) -> str:
        return KIND_LABELS_FR[self.kind]


class _Errors:
    """Collects row errors up to the limit; knows when to stop reading."""

    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.truncated = False

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            if len(self.items) >= MAX_ERRORS:
                self.truncated = True
                return
            self.items.append(error)

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def raise_if_any(self) -> None:
        if self.items:
            raise TerritoryImportError(self.items, truncated=self.truncated)


# --------------------------------------------------------------------------- decoding


def decode(data: bytes, name: str) -> str:
    """Bytes -> text: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252."""
    if data[:4] == b"PK\x03\x04":
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    "this is a spreadsheet (xlsx/ods), not a CSV or JSON file",
                    "ce fichier est un classeur (xlsx/ods) : enregistrez-le au format CSV (séparateur point-virgule)",
                )
            ]
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            line = data.count(b"\n", 0, utf8_error.start) + 1
            raise TerritoryImportError(
                [
                    file_error(
                        name,
                        "unknown text encoding (neither UTF-8 nor Windows-1252)",
                        "encodage du texte non reconnu (ni UTF-8 ni Windows-1252) : "
                        "enregistrez le fichier en « CSV UTF-8 »",
                        line=line,
                    )
                ]
            ) from None
        log.info("%s: not UTF-8, read as Windows-1252", name)
    if "\x00" in text:
        raise TerritoryImportError(
            [file_error(name, "binary file, not text", "fichier binaire : attendu un fichier texte CSV ou JSON")]
        )
    return text


# --------------------------------------------------------------------------- detection and parsing


def detect_kind(text: str, name: str = "<texte>") -> str:
    """The kind of a file from its content: 'geo_json' or a CSV layout kind."""
    stripped = text.lstrip()
    if not stripped:
        raise TerritoryImportError([file_error(name, "empty file", "fichier vide")])
    if stripped[0] in "[{":
        return GEO_JSON
    header, _delimiter = _header(text)
    return _layout_for(header, name).kind


def parse_text(text: str, name: str) -> ParsedFile:
    """Recognise and parse one file's text; raises TerritoryImportError with every row error."""
    kind = detect_kind(text, name)
    if kind == GEO_JSON:
        return parse_geo_json(text, name)
    return parse_csv(text, name)


def read_file(path: Path | str) -> ParsedFile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TerritoryImportError(
            [file_error(path.name, f"cannot read file: {exc.strerror}", f"lecture impossible : {exc.strerror}")]
        ) from None
    return parse_text(decode(data, path.name), path.name)


def load_files(paths: Sequence[Path | str], *, name: str | None = None) -> tuple[TerritoryData, list[ParsedFile]]:
    """Read several files into one TerritoryData; all files' errors are reported together."""
    errors = _Errors()
    parsed: list[ParsedFile] = []
    for path in paths:
        try:
            parsed.append(read_file(path))
        except TerritoryImportError as exc:
            errors.extend(exc.errors)
            if exc.truncated:
                errors.truncated = True
        if errors.full:
            break
    errors.raise_if_any()
    return bundle(parsed, name=name), parsed


def bundle(parsed: Iterable[ParsedFile], *, name: str | None = None) -> TerritoryData:
    data = TerritoryData(name=name)
    lists = {
        CommuneRecord: data.communes,
        SiteRecord: data.sites,
        VehicleRecord: data.vehicles,
        CounsellorRecord: data.counsellors,
        ServiceRecord: data.services,
    }
    for parsed_file in parsed:
        for record in parsed_file.records:
            lists[type(record)].append(record)  # type: ignore[index]
    return data


# ----- CSV


def _sniff_delimiter(line: str) -> str:
    counts = {delimiter: 0 for delimiter in ";,\t"}
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda d: (counts[d], d == ";"))
    return best if counts[best] else ";"


def _header(text: str) -> tuple[list[str], str]:
    first_line = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    delimiter = _sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row], delimiter
    return [], delimiter


def _layout_for(header: list[str], name: str) -> CsvLayout:
    folded = {fold(cell) for cell in header if cell.strip()}
    scores = []
    for layout in LAYOUTS:
        known = layout.by_header()
        matched = {known[cell].name for cell in folded if cell in known}
        required = {column.name for column in layout.columns if column.required}
        scores.append((len(matched), len(required & matched), layout, required - matched))
    scores.sort(key=lambda score: (score[0], score[1]), reverse=True)
    best_matched, best_required, layout, missing = scores[0]
    if best_matched < 2:
        expected = " ; ".join(
            f"{KIND_LABELS_FR[lay.kind]} : {', '.join(c.name for c in lay.columns if c.required)}" for lay in LAYOUTS
        )
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    "unrecognised file: expected a geo.api.gouv.fr JSON or a CSV with a known header "
                    "(see mobile_services/territory/FORMATS.md)",
                    f"format de fichier non reconnu : attendu un JSON geo.api.gouv.fr ou un CSV dont l'en-tête "
                    f"(ligne 1) contient les colonnes obligatoires ({expected})",
                    line=1,
                )
            ]
        )
    tied = [score for score in scores[1:] if (score[0], score[1]) == (best_matched, best_required)]
    if tied and missing:
        kinds = ", ".join(KIND_LABELS_FR[score[2].kind] for score in (scores[0], *tied))
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    "ambiguous header: cannot tell which kind of file this is",
                    f"en-tête ambigu : impossible de savoir s'il s'agit d'un fichier de {kinds}",
                    line=1,
                )
            ]
        )
    if missing:
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    f"{layout.kind} file: missing column(s) {', '.join(sorted(missing))}",
                    f"fichier de {KIND_LABELS_FR[layout.kind]} : colonne obligatoire manquante dans l'en-tête",
                    line=1,
                    field=column,
                )
                for column in sorted(missing)
            ]
        )
    return layout


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line of the row, cells) for every row, header included."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        yield line, row
        line = reader.line_num + 1


def parse_csv(text: str, name: str) -> ParsedFile:
    header_cells, delimiter = _header(text)
    layout = _layout_for(header_cells, name)
    known = layout.by_header()
    result = ParsedFile(name=name, kind=layout.kind)
    errors = _Errors()

    # column index -> Column; the header as written names the field in messages
    columns: dict[int, Column] = {}
    written: dict[str, str] = {}  # record field (or weekday) -> header as written
    seen: dict[str, str] = {}
    for index, cell in enumerate(header_cells):
        key = fold(cell)
        if not key:
            continue
        column = known.get(key)
        if column is None:
            result.warnings.append(
                file_error(name, f"column '{cell}' ignored (unknown)", f"colonne « {cell} » ignorée (inconnue)", line=1)
            )
            continue
        if column.name in seen:
            errors.extend(
                [
                    file_error(
                        name,
                        f"column given twice ('{seen[column.name]}' and '{cell}')",
                        f"colonne en double (« {seen[column.name]} » et « {cell} »)",
                        line=1,
                        field=cell,
                    )
                ]
            )
            continue
        seen[column.name] = cell
        columns[index] = column
        written[column.name if column.field == "opening_hours" else column.field] = cell
    errors.raise_if_any()
    display = {column.field: written.get(column.field, column.name) for column in layout.columns}
    display["opening_hours"] = "lundi … dimanche"

    def field_name(location: tuple[Any, ...]) -> str | None:
        if not location:
            return None
        first = str(location[0])
        if first == "opening_hours":
            if len(location) > 1 and str(location[1]).isdigit():
                day = WEEKDAYS_FR[int(location[1])]
                return written.get(day, day)
            return "lundi … dimanche"
        if first in written:
            return written[first]
        for column in layout.columns:
            if column.field == first:
                return column.name
        return first

    width = len(header_cells)
    rows = _rows(text, delimiter)
    for _line, cells in rows:  # skip blank lines, then the header
        if any(cell.strip() for cell in cells):
            break
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank line, or a row of empty cells left by a spreadsheet
        if errors.full:
            errors.truncated = True  # rows left unchecked: there may be more errors
            break
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            errors.extend(
                [
                    RowError(
                        file=name,
                        line=line,
                        field=None,
                        reason=f"{len(cells)} values for {width} columns (a separator inside a value? quote it)",
                        reason_fr=f"{len(cells)} valeurs pour {width} colonnes "
                        f"(un « {delimiter} » dans une valeur ? mettez-la entre guillemets)",
                    )
                ]
            )
            continue
        values: dict[str, Any] = {}
        hours: dict[int, str] = {}
        for index, column in columns.items():
            cell = cells[index].strip() if index < len(cells) else ""
            if column.field == "opening_hours":
                if cell:
                    hours[WEEKDAYS_FR.index(column.name)] = cell
            elif cell:
                values[column.field] = cell
        if layout is SITES:
            values["opening_hours"] = hours
        origin = Origin(file=name, line=line, columns=display)
        try:
            record = layout.record.model_validate(values)
        except ValidationError as exc:
            errors.extend(row_errors(exc, origin, field_name))
            continue
        result.records.append(record.located(origin))
    errors.raise_if_any()
    if not result.records:
        raise TerritoryImportError(
            [file_error(name, "no data row after the header", "aucune ligne de données après l'en-tête", line=2)]
        )
    return result


# ----- geo.api.gouv.fr JSON


def _json_elements(text: str, name: str) -> Iterator[tuple[int, int, Any]]:
    """(line, 1-based index, value) of each element of a top-level JSON array."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if not text.startswith("[", position):
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    "JSON is not an array of communes (use format=json, not geojson)",
                    "ce JSON n'est pas une liste de communes au format geo.api.gouv.fr (format=json)",
                    line=text.count("\n", 0, position) + 1,
                )
            ]
        )
    position += 1
    line, counted_to = 1, 0
    index = 0
    length = len(text)

    def skip_space(pos: int) -> int:
        while pos < length and text[pos] in " \t\r\n":
            pos += 1
        return pos

    try:
        position = skip_space(position)
        if position < length and text[position] == "]":
            return
        while True:
            position = skip_space(position)
            line += text.count("\n", counted_to, position)
            counted_to = position
            value, position = decoder.raw_decode(text, position)
            index += 1
            yield line, index, value
            position = skip_space(position)
            if position < length and text[position] == ",":
                position += 1
                continue
            if position < length and text[position] == "]":
                break
            raise json.JSONDecodeError("expected ',' or ']'", text, position)
        if skip_space(position + 1) != length:
            raise json.JSONDecodeError("extra data after the array", text, skip_space(position + 1))
    except json.JSONDecodeError as exc:
        raise TerritoryImportError(
            [
                file_error(
                    name,
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    f"JSON invalide : {exc.msg} (colonne {exc.colno}) ; fichier tronqué ou modifié à la main ?",
                    line=exc.lineno,
                )
            ]
        ) from None


def parse_geo_json(text: str, name: str) -> ParsedFile:
    """Parse a geo.api.gouv.fr communes answer (``nom``, ``code``, ``codesPostaux``, ``population``, ``centre``,
    and ``contour`` when asked for)."""
    result = ParsedFile(name=name, kind=GEO_JSON)
    errors = _Errors()
    for line, index, element in _json_elements(text, name):
        if errors.full:
            errors.truncated = True
            break
        origin = Origin(file=name, line=line, item=index, columns=GEO_JSON_FIELDS)

        def problem(field: str | None, english: str, french: str) -> RowError:
            return RowError(file=name, line=line, item=index, field=field, reason=english, reason_fr=french)  # noqa: B023

        if not isinstance(element, dict):
            errors.extend([problem(None, "element is not an object", "l'élément n'est pas un objet JSON")])
            continue
        values: dict[str, Any] = {}
        local: list[RowError] = []
        for key, target in (("code", "insee_code"), ("nom", "name"), ("codesPostaux", "postcodes")):
            if key in element:
                values[target] = element[key]
        if element.get("contour") is not None:  # fields=...,contour; null or absent: no outline
            values["contour"] = element["contour"]
        if "population" in element:
            values["population"] = element["population"]
        else:
            values["population"] = 0
            result.warnings.append(
                problem("population", "population missing, 0 assumed", "population absente : 0 retenu")
            )
        centre = element.get("centre")
        coordinates = centre.get("coordinates") if isinstance(centre, dict) else None
        if centre is None:
            local.append(problem("centre", "missing centre", "centre manquant (ajoutez « centre » à fields=)"))
        elif (
            not isinstance(coordinates, list)
            or len(coordinates) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in coordinates)
        ):
            local.append(
                problem(
                    "centre",
                    "centre must be a GeoJSON Point with coordinates [longitude, latitude]",
                    "« centre » doit être un point GeoJSON avec des coordonnées (longitude, latitude)",
                )
            )
        else:
            values["longitude"], values["latitude"] = coordinates
        try:
            record = CommuneRecord.model_validate(values)
        except ValidationError as exc:
            local.extend(
                err
                for err in row_errors(exc, origin, GEO_JSON_FIELDS)
                if not (err.field == "centre" and local and local[-1].field == "centre")
            )
        else:
            if not local:
                result.records.append(record.located(origin))
        errors.extend(local)
    errors.raise_if_any()
    if not result.records:
        raise TerritoryImportError([file_error(name, "no commune in the file", "aucune commune dans le fichier")])
    return result


# --------------------------------------------------------------------------- writing


def write_csv(layout: CsvLayout, records: Sequence[Record], path: Path) -> Path:
    """Write records in the documented layout: ``;`` separator, UTF-8 with BOM (Excel-friendly)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow([column.name for column in layout.columns])
        for record in records:
            writer.writerow([column.write(getattr(record, column.field)) for column in layout.columns])
    return path


def write_csv_files(data: TerritoryData, directory: Path) -> list[Path]:
    """Write every non-empty part of ``data`` as the documented CSV files, ready to re-import."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = (
        (COMMUNES, data.communes),
        (SITES, data.sites),
        (VEHICLES, data.vehicles),
        (COUNSELLORS, data.counsellors),
        (SERVICES, data.services),
    )
    return [write_csv(layout, records, directory / layout.file_name) for layout, records in parts if records]


def geo_json_text(communes: Sequence[CommuneRecord]) -> str:
    """The geo.api.gouv.fr format, one commune per line (like the files in /shared/territories)."""
    lines = []
    for commune in communes:
        element = {
            "nom": commune.name,
            "code": commune.insee_code,
            "codesPostaux": commune.postcodes,
            "population": commune.population,
            "centre": {"type": "Point", "coordinates": [commune.longitude, commune.latitude]},
        }
        if commune.contour is not None:
            element["contour"] = commune.contour
        lines.append(json.dumps(element, ensure_ascii=False, separators=(",", ":")))
    return "[\n" + ",\n".join(lines) + "\n]\n"
