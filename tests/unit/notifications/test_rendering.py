"""French SMS templates: every one fits one GSM-7 segment with the longest realistic values."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from notifications.gsm import count_segments, is_gsm7
from notifications.rendering import (
    SmsRenderer,
    clip,
    format_long_date,
    format_sms_date,
    format_sms_time,
    render_sms,
    render_text,
    reply_with_number,
)

# Longest values we expect in production. The real record among French commune
# names is "Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson" (45 characters); we
# test with a longer one, in the same style, for margin.
LONGEST_COMMUNE = "Saint-Hilaire-la-Plaine-et-Saint-Sulpice-le-Guéretois"
LONG_COMMUNES = [
    LONGEST_COMMUNE,
    "Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson",
    "Saint-Étienne-de-Fursac",
]
LONGEST_SITE = "Salle polyvalente Georges-Brassens (derrière la mairie)"
LONGEST_SERVICE = "Retraite (CARSAT) - pension de réversion"
LONGEST_BRING = "Carte Vitale, avis d'imposition, relevé d'identité bancaire, livret de famille"
# Public links carry a 128-bit token (22 base64url characters) after a territory's domain.
LONGEST_LINK = "https://rendez-vous.cc-creuse-sud.fr/r/" + "Ab3dE_gH1jK-mN0pQrStUv"
# Private pages of drivers and counsellors carry a 256-bit token (43 base64url characters).
LONGEST_PRIVATE_LINK = "https://rendez-vous.cc-creuse-sud.fr/conseiller/" + "Ab3dE_gH1jK-mN0pQrStUv" * 2
# "mer. 30 sept." is the longest short date; 12:30 UTC is 14h30 in Paris in summer.
LONGEST_START = datetime(2026, 9, 30, 12, 30, tzinfo=timezone.utc)
NINE_SERVICES = [
    "CAF",
    "CPAM",
    "MSA",
    "Retraite",
    "France Travail",
    "Impôts",
    "Papiers (ANTS)",
    "Justice",
    "La Poste",
]

LONGEST_FIELDS: dict[str, dict[str, Any]] = {
    "already_booked": {},
    "ask_commune": dict(territory="Communauté de communes Creuse Sud-Ouest et Pays Sostranien"),
    # The dialogue leaves the address out when the place does not fit (never cut): the
    # longest site and commune without one, the longest address with a short site.
    "booking_place": dict(start=LONGEST_START, site=LONGEST_SITE, address="", commune=LONGEST_COMMUNE),
    # Whole documents only, packed by the dialogue until the SMS is full; the rest goes on in documents_more.
    "booking_documents": dict(start=LONGEST_START, documents=LONGEST_BRING.split(", ")[:3], more=True),
    "documents_more": dict(documents=["livret de famille", "relevé d'identité bancaire", "avis d'imposition"]),
    "existing_booking": dict(start=LONGEST_START, commune=LONGEST_COMMUNE, more=12),
    # The dialogue drops the site when the SMS would not fit (never cut): the longest commune without it.
    "next_stop": dict(start=LONGEST_START, site="", commune=LONGEST_COMMUNE),
    "service_not_offered": dict(service="Retraite (CARSAT) - pension de réversion", choices=9),
    "slot_nearest": dict(commune=LONGEST_COMMUNE, slots=[LONGEST_START] * 3),
    "thanks_reply": {},
    "who_we_are": dict(territory="Communauté de communes Creuse Sud-Ouest et Pays Sostranien"),
    "booking_confirmation": dict(
        service=LONGEST_SERVICE,
        start=LONGEST_START,
        site=LONGEST_SITE,
        commune=LONGEST_COMMUNE,
        bring=LONGEST_BRING,
        link=LONGEST_LINK,
    ),
    "cancel_choice": dict(
        bookings=[
            dict(start=LONGEST_START, commune=LONGEST_COMMUNE),
            dict(start=LONGEST_START, commune=LONG_COMMUNES[1]),
        ],
        more=12,
    ),
    "cancel_question": dict(start=LONGEST_START, commune=LONGEST_COMMUNE),
    "cancellation_ack": dict(start=LONGEST_START, commune=LONGEST_COMMUNE),
    "commune_choice": dict(communes=LONG_COMMUNES),
    "confirm_question": dict(service=LONGEST_SERVICE, start=LONGEST_START, commune=LONGEST_COMMUNE),
    "conversation_expired": {},
    "coordinator_draft": dict(week="2026-W52", version=12, communes=248, people=2253, left_out=204),
    "coordinator_waitlist": dict(waiting=1250, commune=LONGEST_COMMUNE),
    "coordinator_replanned": dict(
        what="Salle polyvalente Georges-Brassens (derrière la mairie) indisponible", week="2026-W52", version=12,
        moved=120, cancelled=45,
    ),
    "driver_itinerary": dict(
        day=LONGEST_START.date(), stops=12, first_start=LONGEST_START, link=LONGEST_PRIVATE_LINK
    ),
    "help": {},
    "login_code": dict(code="123456", minutes=10),
    "hold_moved": dict(offer_start=LONGEST_START, offer_commune=LONGEST_COMMUNE, hold_until=LONGEST_START),
    "hold_withdrawn": dict(offer_start=LONGEST_START, offer_commune=LONGEST_COMMUNE),
    "hold_expired": dict(offer_start=LONGEST_START, offer_commune=LONGEST_COMMUNE),
    "my_bookings": dict(
        bookings=[
            dict(start=LONGEST_START, commune=LONGEST_COMMUNE),
            dict(start=LONGEST_START, commune=LONG_COMMUNES[1]),
        ],
        more=12,
    ),
    "opt_in_ack": {},
    "opt_out_ack": {},
    "reminder_day_before": dict(start=LONGEST_START, site=LONGEST_SITE, commune=LONGEST_COMMUNE),
    "reminder_two_hours": dict(start=LONGEST_START, site=LONGEST_SITE, commune=LONGEST_COMMUNE),
    "service_choice": dict(services=NINE_SERVICES),
    "slot_offer": dict(commune=LONGEST_COMMUNE, slots=[LONGEST_START] * 3),
    "slot_not_offered": dict(choices=3),
    "slot_unavailable": {},
    "stop_cancelled": dict(
        old_start=LONGEST_START,
        commune=LONGEST_COMMUNE,
        offer_start=LONGEST_START,
        offer_commune=LONGEST_COMMUNE,
        hold_until=LONGEST_START,
    ),
    "staff_day_changed": dict(
        day=LONGEST_START.date(), vehicle="Bus France Services Creuse Sud", stops=12, first_start=LONGEST_START,
        first_commune=LONGEST_COMMUNE, link=LONGEST_PRIVATE_LINK,
    ),
    "stop_moved": dict(commune=LONGEST_COMMUNE, start=LONGEST_START, site=LONGEST_SITE),
    "technical_error": {},
    "unknown_answer": dict(expected="1, 2 ou 3"),
    "waitlist_ack": dict(commune=LONGEST_COMMUNE),
    # the longer of its two texts: a notice replacing one about a stop the week no longer has
    "waitlist_offer": dict(commune=LONGEST_COMMUNE, start=LONGEST_START, instead=LONGEST_START),
    "waitlist_stop_cancelled": dict(commune=LONGEST_COMMUNE, start=LONGEST_START),
    "waitlist_seat_offer": dict(commune=LONGEST_COMMUNE, start=LONGEST_START, hold_until=LONGEST_START),
    "waitlist_expired": dict(commune=LONGEST_COMMUNE, since=LONGEST_START.date()),
}

# The booking confirmation is the message residents keep: date, time, place,
# what to bring, the link to their booking page and how to cancel. That does
# not fit 160 septets with long names, so it alone may use two segments.
# Crews' day SMS carry their private link (a 256-bit token): two segments, crews are few.
TWO_SEGMENT_TEMPLATES = {"booking_confirmation", "driver_itinerary", "staff_day_changed"}

# Words Twilio's opt-out/opt-in/help handling would intercept if a resident sent them.
INTERCEPTED_KEYWORDS = re.compile(r"\b(CANCEL|END|YES|QUIT|UNSUBSCRIBE|STOPALL|UNSTOP|INFO|HELP)\b")


@pytest.fixture(scope="module")
def renderer() -> SmsRenderer:
    return SmsRenderer()


def test_every_template_has_longest_values_in_this_test(renderer: SmsRenderer) -> None:
    # A new template without an entry in LONGEST_FIELDS would escape the size check.
    assert set(renderer.template_names()) == set(LONGEST_FIELDS)


@pytest.mark.parametrize("name", sorted(LONGEST_FIELDS))
def test_every_template_fits_its_segments_in_gsm7_with_longest_values(
    renderer: SmsRenderer, name: str
) -> None:
    body = renderer.render(name, **LONGEST_FIELDS[name])
    info = count_segments(body)
    assert is_gsm7(body), [ch for ch in body if not is_gsm7(ch)]
    allowed = 2 if name in TWO_SEGMENT_TEMPLATES else 1
    assert info.segments <= allowed, f"{name}: {info.units} septets\n{body}"
    assert not INTERCEPTED_KEYWORDS.search(body)
    assert "None" not in body and "  " not in body and ".." not in body


def test_the_confirmation_carries_everything_a_resident_keeps(renderer: SmsRenderer) -> None:
    body = renderer.render("booking_confirmation", **LONGEST_FIELDS["booking_confirmation"])
    assert "mer. 30 sept. à 14h30" in body
    assert LONGEST_COMMUNE in body  # never shortened: it is how residents recognise the place
    assert LONGEST_LINK in body
    assert "Apportez : Carte Vitale" in body
    assert body.endswith("Pour annuler, répondez ANNULER.")


def test_a_confirmation_without_anything_to_bring_skips_the_line(renderer: SmsRenderer) -> None:
    body = renderer.render(
        "booking_confirmation",
        service="CAF",
        start=datetime(2026, 12, 8, 13, 30, tzinfo=timezone.utc),
        site="Mairie",
        commune="Crocq",
        link="https://rdv.example.fr/r/x",
    )
    assert body == (
        "RDV confirmé : CAF, mar. 8 déc. à 14h30, Mairie, Crocq.\n"
        "https://rdv.example.fr/r/x\n"
        "Pour annuler, répondez ANNULER."
    )
    assert count_segments(body).segments == 1


def test_variable_fields_are_transliterated_but_template_text_is_not(renderer: SmsRenderer) -> None:
    body = renderer.render(
        "waitlist_ack", commune="Châtel-Guyon"
    )  # â is not GSM-7; the é of "noté" and è of "dès" are
    assert "Chatel-Guyon" in body
    assert body.startswith("C'est noté")
    assert "dès qu'un passage est prévu" in body
    assert count_segments(body).encoding == "GSM-7"


def test_numbered_lists_are_numbered_and_end_with_the_right_prompt(renderer: SmsRenderer) -> None:
    slots = [
        datetime(2026, 12, 8, 8, 0, tzinfo=timezone.utc),
        datetime(2026, 12, 8, 8, 30, tzinfo=timezone.utc),
    ]
    body = renderer.render("slot_offer", commune="Crocq", slots=slots)
    assert body == "Créneaux à Crocq :\n1) mar. 8 déc. 9h\n2) mar. 8 déc. 9h30\nRépondez 1 ou 2"


def test_lists_longer_than_the_template_allows_are_refused(renderer: SmsRenderer) -> None:
    with pytest.raises(ValueError, match="at most 3"):
        renderer.render("slot_offer", commune="Crocq", slots=[LONGEST_START] * 4)
    with pytest.raises(ValueError, match="at least one"):
        renderer.render("commune_choice", communes=[])


def test_my_bookings_without_bookings_says_so(renderer: SmsRenderer) -> None:
    assert renderer.render("my_bookings", bookings=[]) == (
        "Vous n'avez aucun RDV à venir. Pour prendre RDV, envoyez RDV."
    )


def test_stop_cancelled_without_a_new_slot_promises_a_notice(renderer: SmsRenderer) -> None:
    body = renderer.render("stop_cancelled", old_start=LONGEST_START, commune="Crocq")
    assert "Crocq est annulé" in body and "préviendrons" in body and "OUI" not in body
    with_offer = renderer.render(
        "stop_cancelled",
        old_start=LONGEST_START,
        commune="Crocq",
        offer_start=LONGEST_START,
        offer_commune="Mainsat",
        hold_until=LONGEST_START,
    )
    assert "Répondez OUI avant le" in with_offer and "Mainsat" in with_offer


def test_a_missing_field_is_an_error_not_an_empty_string(renderer: SmsRenderer) -> None:
    with pytest.raises(UndefinedError):
        renderer.render("waitlist_ack")


def test_none_and_raw_dates_never_reach_a_resident(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "raw.txt").write_text("Valeur : {{ value }}")
    renderer = SmsRenderer(templates_dir=tmp_path)
    assert renderer.render("raw", value="Pâques") == "Valeur : Paques"
    assert renderer.render("raw", value=3) == "Valeur : 3"
    with pytest.raises(TypeError, match="None"):
        renderer.render("raw", value=None)
    with pytest.raises(TypeError, match="sms_date"):
        renderer.render("raw", value=LONGEST_START)
    with pytest.raises(TypeError, match="sms_date"):
        renderer.render("raw", value=date(2026, 1, 1))


def test_render_sms_uses_the_packaged_templates() -> None:
    assert render_sms("help").startswith("Envoyez RDV pour prendre rendez-vous")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 8), "mar. 8 déc."),
        (date(2026, 3, 1), "dim. 1er mars"),
        (date(2026, 8, 15), "sam. 15 aout"),
        (date(2026, 2, 2), "lun. 2 févr."),
        (date(2026, 9, 30), "mer. 30 sept."),
        (date(2026, 7, 16), "jeu. 16 juil."),
        (date(2026, 1, 9), "ven. 9 janv."),
        # 23:30 UTC on 31 December is already 1 January in Paris.
        (datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc), "ven. 1er janv."),
    ],
)
def test_short_french_dates(value: date, expected: str) -> None:
    assert format_sms_date(value) == expected
    assert is_gsm7(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 12, 8, 13, 30, tzinfo=timezone.utc), "14h30"),  # winter: UTC+1
        (datetime(2026, 7, 8, 7, 0, tzinfo=timezone.utc), "9h"),  # summer: UTC+2
        (datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc), "1h59"),  # just before the spring jump
        (datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc), "3h"),  # 2h00 does not exist
        (datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc), "2h30"),  # first 2h30 (CEST)
        (datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc), "2h30"),  # second 2h30 (CET)
        (time(9, 5), "9h05"),
    ],
)
def test_french_clock_times_in_paris(value: datetime | time, expected: str) -> None:
    assert format_sms_time(value) == expected


def test_naive_datetimes_are_refused_by_the_formatters() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_sms_date(datetime(2026, 12, 8, 14, 30))
    with pytest.raises(ValueError, match="naive"):
        format_sms_time(datetime(2026, 12, 8, 14, 30))


def test_long_dates_for_calendars() -> None:
    assert format_long_date(date(2026, 8, 1)) == "samedi 1er août 2026"
    assert format_long_date(datetime(2026, 12, 8, 13, 30, tzinfo=timezone.utc)) == "mardi 8 décembre 2026"


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("Mairie", 10, "Mairie"),
        ("Salle polyvalente Georges-Brassens", 30, "Salle polyvalente Georges."),
        ("Médiathèque", 11, "Médiathèque"),
        ("Abcdefghijklmnop", 8, "Abcdefg."),
        ("Châtel-Guyon", 12, "Chatel-Guyon"),  # transliterated before measuring
        ("Saint-Remy-en-Bouzemont", 12, "Saint-Remy."),
        ("votre smartphone chargé et son code de déverrouillage", 45, "votre smartphone chargé et son code."),
        ("carte Vitale et attestation de droits", 30, "carte Vitale et attestation."),
    ],
)
def test_clip_shortens_to_a_septet_budget(value: str, limit: int, expected: str) -> None:
    assert clip(value, limit) == expected
    assert len(clip(value, limit)) <= limit


def test_reply_prompt_matches_the_number_of_choices() -> None:
    assert reply_with_number(2) == "Répondez 1 ou 2"
    assert reply_with_number(3) == "Répondez 1, 2 ou 3"
    assert reply_with_number(9) == "Répondez par le numéro"
    with pytest.raises(ValueError):
        reply_with_number(0)


def test_text_templates_keep_unicode() -> None:
    summary = render_text("ics/booking_summary.txt", service="Impôts", commune="Châtel-Guyon", cancelled=False)
    assert summary == "RDV Impôts à Châtel-Guyon"
