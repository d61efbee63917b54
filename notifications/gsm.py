"""GSM-7 / UCS-2 segment counting and transliteration of variable fields.

Why this matters: a single character outside the GSM 03.38 alphabet (ç, â, ê,
î, ô, û, œ, ’, « ») switches the whole SMS to UCS-2, where a segment holds 70
characters instead of 160; residents pay nothing but the territory pays per
segment, and long concatenated messages arrive out of order on old phones.
Templates are written by hand in GSM-7; everything that comes from data
(commune and site names, service labels) goes through `transliterate`.

The alphabet below is 3GPP TS 23.038 (default alphabet + extension table).
Note that GSM-7 has é è ù à ì ò and the capitals É and Ç, but not the lowercase ç.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SegmentInfo",
    "count_segments",
    "is_gsm7",
    "septets",
    "transliterate",
]

GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x1B, between Ξ and Æ, is the escape code, not a character
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The 127 characters of the GSM 03.38 default alphabet (one septet each)."""

GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
"""Characters reached through the escape code: they cost two septets each."""

_SINGLE_GSM7_SEGMENT = 160
_MULTI_GSM7_SEGMENT = 153  # 7 septets go to the concatenation header
_SINGLE_UCS2_SEGMENT = 70
_MULTI_UCS2_SEGMENT = 67  # 3 UTF-16 units go to the concatenation header

# Characters NFKD cannot bring back to GSM-7 but that have an obvious stand-in.
_REPLACEMENTS: Mapping[str, str] = MappingProxyType({
    "œ": "oe",
    "Œ": "OE",
    "ç": "c",  # GSM-7 only has the capital Ç
    "’": "'",
    "‘": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "´": "'",
    "`": "'",
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "‹": "'",
    "›": "'",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "•": "-",
    "·": ".",
    "…": "...",
    "°": "o",
    "×": "x",
    "÷": "/",
    "⁄": "/",
    "đ": "d",
    "Đ": "D",
    "ł": "l",
    "Ł": "L",
    "ı": "i",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "TH",
    "\t": " ",
    "\v": " ",
    "\u2028": "\n",
    "\u2029": "\n",
})

_UNKNOWN = "?"


@dataclass(frozen=True)
class SegmentInfo:
    """How a text will travel: its encoding, its length in that encoding, its segment count.

    `units` are septets for GSM-7 (extension characters count two) and UTF-16
    code units for UCS-2 (characters outside the BMP, such as emoji, count two).
    """

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    """True when every character of `text` can be sent in GSM-7."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def septets(text: str) -> int:
    """Length of a GSM-7 text in septets; raises ValueError if it is not GSM-7."""
    total = 0
    for ch in text:
        if ch in GSM7_BASIC:
            total += 1
        elif ch in GSM7_EXTENSION:
            total += 2
        else:
            raise ValueError(f"{ch!r} is not in the GSM-7 alphabet")
    return total


def count_segments(text: str) -> SegmentInfo:
    """Count the segments `text` will be billed and delivered as.

    Multi-part messages are packed the way handsets and Twilio do: an escape
    sequence (GSM-7) or a surrogate pair (UCS-2) is never split across two
    segments, so a part may hold one unit less than the nominal 153 / 67.
    """
    if is_gsm7(text):
        widths = [1 if ch in GSM7_BASIC else 2 for ch in text]
        return _pack("GSM-7", widths, _SINGLE_GSM7_SEGMENT, _MULTI_GSM7_SEGMENT)
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _pack("UCS-2", widths, _SINGLE_UCS2_SEGMENT, _MULTI_UCS2_SEGMENT)


def _pack(
    encoding: Literal["GSM-7", "UCS-2"], widths: list[int], single: int, multi: int
) -> SegmentInfo:
    units = sum(widths)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return SegmentInfo(encoding, units, segments)


def transliterate(text: str) -> str:
    """Return `text` with every non-GSM-7 character replaced by its closest GSM-7 form.

    Used on variable fields only ("Châtel-Guyon" -> "Chatel-Guyon", "Saint-Étienne"
    keeps its É): a resident reads a commune name without a circumflex more
    easily than a message cut into three UCS-2 parts. Characters with no
    sensible stand-in become "?"; invisible ones (zero-width, soft hyphen,
    control codes) are dropped. The result is always GSM-7 and the function is
    idempotent.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        out.append(_transliterate_char(ch))
    return "".join(out)


def _transliterate_char(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf", "Mn", "Me"):
        # Control and format characters (zero-width space, soft hyphen, BOM) and
        # stray combining marks carry nothing a reader would miss.
        return ""
    if category == "Zs":
        return " "
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(
        _REPLACEMENTS.get(part, part)
        for part in decomposed
        if not unicodedata.combining(part)
    )
    if kept and is_gsm7(kept):
        return kept
    return _UNKNOWN
