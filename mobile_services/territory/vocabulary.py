"""Words coordinators write in their files: weekdays, skills, site kinds, yes/no.

Matching ignores case, accents, spaces and hyphens ("Salle des fêtes" is
``salle_des_fetes``), because the files come from spreadsheets typed by hand.
"""

from __future__ import annotations

import re
import unicodedata

WEEKDAYS_FR: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_SHORT_FR: tuple[str, ...] = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")

#: Skills a counsellor can have and a service can require (see catalogue.py).
SKILLS: dict[str, str] = {
    "caf": "CAF (allocations familiales, logement, RSA, prime d'activité)",
    "ameli": "Assurance maladie (Ameli / CPAM)",
    "france_travail": "France Travail (inscription, actualisation)",
    "impots": "Impôts (DGFiP)",
    "ants": "ANTS (carte grise, permis, titres d'identité)",
    "msa": "MSA (mutualité sociale agricole)",
    "retraite": "Retraite (CARSAT, info-retraite)",
    "energie": "Chèque énergie",
    "numerique_base": "Premiers pas numériques (smartphone, ordinateur, e-mail)",
    "atelier": "Animation d'ateliers collectifs",
}
SKILL_ALIASES: dict[str, str] = {
    "cpam": "ameli",
    "assurance_maladie": "ameli",
    "pole_emploi": "france_travail",
    "dgfip": "impots",
    "impot": "impots",
    "carsat": "retraite",
    "cheque_energie": "energie",
    "numerique": "numerique_base",
    "ateliers": "atelier",
}

SITE_KINDS: dict[str, str] = {
    "mairie": "Mairie",
    "salle_des_fetes": "Salle des fêtes",
    "place_du_marche": "Place du marché",
    "mediatheque": "Médiathèque",
    "france_services": "Espace France Services",
    "parking": "Parking",
    "autre": "Autre",
}
SITE_KIND_ALIASES: dict[str, str] = {
    "salle_polyvalente": "salle_des_fetes",
    "place": "place_du_marche",
    "marche": "place_du_marche",
    "bibliotheque": "mediatheque",
    "france_service": "france_services",
}

TRAVEL_MODES: dict[str, str] = {"bus": "bus", "car": "car", "voiture": "car"}
VEHICLE_KINDS: dict[str, str] = {"bus": "bus", "car": "car", "voiture": "car"}

_TRUE = {"oui", "o", "vrai", "true", "yes", "y", "1", "x"}
_FALSE = {"non", "n", "faux", "false", "no", "0"}


def fold(text: str) -> str:
    """Lower case, no accents, words joined by underscores: 'Salle des Fêtes' -> 'salle_des_fetes'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = ascii_only.replace("œ", "oe").replace("æ", "ae")
    return re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")


def weekday_index(text: str) -> int | None:
    """0 for 'lundi' / 'Lun' / 'LUNDI', ..., 6 for 'dimanche'; None if not a weekday."""
    key = fold(text)
    if key in WEEKDAYS_FR:
        return WEEKDAYS_FR.index(key)
    if key in WEEKDAYS_SHORT_FR:
        return WEEKDAYS_SHORT_FR.index(key)
    return None


def skill_code(text: str) -> str | None:
    key = fold(text)
    key = SKILL_ALIASES.get(key, key)
    return key if key in SKILLS else None


def site_kind_code(text: str) -> str | None:
    key = fold(text)
    key = SITE_KIND_ALIASES.get(key, key)
    return key if key in SITE_KINDS else None


def parse_bool(text: str) -> bool | None:
    key = fold(text)
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


# GSM 03.38 basic character set (one septet each). The extension table (€ [ ] { } ...)
# costs two septets and is left out on purpose: short labels stay plain.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def non_gsm7(text: str) -> list[str]:
    """Characters of ``text`` outside the GSM-7 basic set (each would force UCS-2)."""
    return sorted({ch for ch in text if ch not in GSM7_BASIC})
