"""Every reason the planner may give for leaving a commune out has a French sentence."""

from __future__ import annotations

from mobile_services.service_layer.planning import UNSERVED_REASONS_FR
from routing.result import UnservedReason


def test_every_unserved_reason_is_translated() -> None:
    assert set(UNSERVED_REASONS_FR) == set(UnservedReason)
    assert all(text and text[0].islower() for text in UNSERVED_REASONS_FR.values())


def test_over_capacity_speaks_of_appointments() -> None:
    assert "rendez-vous" in UNSERVED_REASONS_FR[UnservedReason.OVER_CAPACITY]
