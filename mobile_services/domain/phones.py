"""Phone numbers: parsed with ``phonenumbers``, stored in E.164, SMS only to mobiles."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from mobile_services.domain.exceptions import InvalidInput

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_phone(raw: str, *, region: str = "FR") -> str:
    """'06 12 34 56 78' or '+33612345678' -> '+33612345678'; a French error otherwise."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput("invalid phone number", "Numéro de téléphone invalide.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def territory_number(raw: str) -> str | None:
    """A number residents write to, as a territory stores it: E.164, or the digits of a short code.

    None for what is neither (an empty ``To``, say).
    """
    text = raw.strip()
    if text.isdigit() and 4 <= len(text) <= 6:
        return text
    try:
        return normalise_phone(text)
    except InvalidInput:
        return None


def is_mobile(e164: str) -> bool:
    """True for numbers that can receive SMS (mobiles); landlines cannot."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def reachable_mobile(raw: str | None) -> str | None:
    """``raw`` as E.164 when it can receive SMS; None when missing, not a number, or a landline.

    For numbers typed by coordinators (drivers, counsellors, the coordinator): a bad one
    means that person is not texted, never that a whole job fails.
    """
    if not raw:
        return None
    try:
        number = normalise_phone(raw)
    except InvalidInput:
        return None
    return number if is_mobile(number) else None


def mask(e164: str | None) -> str:
    """A phone number for logs: never the whole number (no personal data in logs)."""
    if not e164:
        return "-"
    return f"{e164[:4]}…{e164[-2:]}"
