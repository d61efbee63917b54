"""Errors of the territory package: what went wrong, where, in English and in French.

Every import problem is a :class:`RowError` naming the file, the line, the field (the
column or JSON key as written in the file) and the reason. Reasons exist in two
languages: English for logs, French for the coordinator (``french()``). The
exceptions are :class:`UserFacingError`, so the CLI's ``friendly_errors`` shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mobile_services.domain.exceptions import UserFacingError

#: Row errors kept per import; beyond this the import stops collecting and says so.
MAX_ERRORS = 100
#: Row errors shown by ``french()`` / ``str()`` before "and N more".
SHOWN_ERRORS = 20


@dataclass(frozen=True, kw_only=True)
class RowError:
    """One problem in one place of one file.

    ``line`` is the 1-based physical line where the row starts (the header is line 1
    of a CSV file); ``item`` is the 1-based position of the element in a JSON array,
    useful when a whole JSON answer sits on one line. ``field`` is the column or key
    as written in the file, or None when the problem concerns the whole file or row;
    ``file`` is empty for a problem with the import as a whole (which territory?).
    """

    file: str
    line: int | None
    field: str | None
    reason: str
    reason_fr: str
    item: int | None = None

    def english(self) -> str:
        place = [self.file] if self.file else []
        if self.line is not None:
            place.append(f"line {self.line}")
        if self.item is not None:
            place.append(f"item {self.item}")
        if self.field:
            place.append(f"field '{self.field}'")
        return f"{', '.join(place)}: {self.reason}" if place else self.reason

    def french(self) -> str:
        place = [self.file] if self.file else []
        if self.line is not None:
            place.append(f"ligne {self.line}")
        if self.item is not None:
            place.append(f"élément {self.item}")
        if self.field:
            place.append(f"champ « {self.field} »")
        return f"{', '.join(place)} : {self.reason_fr}" if place else self.reason_fr


class TerritoryError(UserFacingError):
    """Base of the errors a coordinator can fix: ``str()`` for logs, ``french()`` to show."""


class TerritoryImportError(TerritoryError):
    """The import was refused; nothing was written. Carries every row error found."""

    def __init__(self, errors: Sequence[RowError], *, truncated: bool = False) -> None:
        if not errors:
            raise ValueError("TerritoryImportError needs at least one RowError")
        self.errors: tuple[RowError, ...] = tuple(errors)
        self.truncated = truncated
        super().__init__(self._render(english=True), self._render(english=False))

    def _render(self, *, english: bool) -> str:
        count = len(self.errors)
        more = "+" if self.truncated else ""
        if english:
            head = f"import rejected, nothing written: {count}{more} error{'s' if count > 1 else ''}"
        else:
            head = f"Import refusé, rien n'a été enregistré : {count}{more} erreur{'s' if count > 1 else ''}"
        lines = [head]
        for error in self.errors[:SHOWN_ERRORS]:
            lines.append(f"- {error.english() if english else error.french()}")
        hidden = count - SHOWN_ERRORS
        if hidden > 0 or self.truncated:
            if english:
                lines.append(f"... and {max(hidden, 0)}{more} more")
            else:
                lines.append(f"… et {max(hidden, 0)}{more} autre(s) erreur(s) non affichée(s)")
        return "\n".join(lines)

    @classmethod
    def collect(cls, errors: Iterable[RowError]) -> TerritoryImportError | None:
        """An error holding ``errors`` (capped at MAX_ERRORS), or None if there are none."""
        kept: list[RowError] = []
        truncated = False
        for error in errors:
            if len(kept) >= MAX_ERRORS:
                truncated = True
                break
            kept.append(error)
        return cls(kept, truncated=truncated) if kept else None


class TerritoryFetchError(TerritoryError):
    """Downloading from geo.api.gouv.fr failed (offline, unknown département, server error)."""


def file_error(
    file: str, reason: str, reason_fr: str, *, line: int | None = None, field: str | None = None
) -> RowError:
    """A problem with a whole file (encoding, header, JSON syntax)."""
    return RowError(file=file, line=line, field=field, reason=reason, reason_fr=reason_fr)
