"""The default service catalogue."""

from __future__ import annotations

from mobile_services.territory.catalogue import catalogue
from mobile_services.territory.vocabulary import SKILLS, non_gsm7

REQUESTED = {
    "caf": "caf",
    "ameli": "ameli",
    "france_travail": "france_travail",
    "impots": "impots",
    "ants_carte_grise": "ants",
    "ants_permis": "ants",
    "ants_titres": "ants",
    "msa": "msa",
    "retraite": "retraite",
    "cheque_energie": "energie",
    "smartphone": "numerique_base",
    "ordinateur": "numerique_base",
    "messagerie": "numerique_base",
    "atelier_numerique": "atelier",
}


def test_catalogue_has_the_requested_motifs_with_their_skill() -> None:
    assert {s.code: s.required_skill for s in catalogue()} == REQUESTED


def test_every_skill_is_needed_by_some_service() -> None:
    assert {s.required_skill for s in catalogue()} == set(SKILLS)


def test_short_labels_fit_one_sms_line() -> None:
    for service in catalogue():
        assert non_gsm7(service.short_label) == [], service.code
        assert len(service.short_label) <= 28, service.code


def test_each_procedure_says_what_to_bring_and_how_long_it_takes() -> None:
    for service in catalogue():
        assert service.documents, service.code
        assert 15 <= service.duration_minutes <= 90, service.code
    durations = {s.code: s.duration_minutes for s in catalogue()}
    assert durations["retraite"] > durations["caf"] > durations["cheque_energie"]


def test_only_the_workshop_is_collective() -> None:
    groups = [(s.code, s.group_capacity) for s in catalogue() if s.is_group]
    assert groups == [("atelier_numerique", 8)]
