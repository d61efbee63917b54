"""Private links of drivers and counsellors: unguessable, revocable tokens.

A token is 32 random bytes (256 bits) in URL-safe base64 and carries nothing else: the
subject (a vehicle, whose driver opens its days, or a counsellor) is looked up in the
database. Rotating revokes the live token and issues the next in one transaction, so the
old link stops working at once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from mobile_services.domain import commands
from mobile_services.domain.exceptions import NotFound
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

__all__ = ["PATHS", "PrivateLink", "issue", "link_for", "live_links", "private_url", "resolve", "rotate_access_token"]

TOKEN_BYTES = 32
#: where each kind of private link leads (the web routes use the same paths)
PATHS = {"vehicle": "chauffeur", "counsellor": "conseiller"}


def private_url(base_url: str, kind: str, token: str) -> str:
    """The private page of a vehicle's driver or of a counsellor, as sent and printed."""
    return f"{base_url}/{PATHS[kind]}/{token}"


def link_for(session: Session, *, territory_id: int, kind: str, subject_id: int, now: datetime) -> str:
    """The subject's live token, issued on first use (the morning SMS needs one)."""
    live = session.exec(
        select(t.AccessToken).where(
            t.AccessToken.kind == kind, t.AccessToken.subject_id == subject_id, col(t.AccessToken.revoked_at).is_(None)
        )
    ).first()
    return live.token if live is not None else issue(session, territory_id=territory_id, kind=kind, subject_id=subject_id, now=now)


@dataclass(frozen=True, kw_only=True)
class PrivateLink:
    kind: str
    subject_id: int
    subject_name: str
    token: str
    created_at: datetime


def _subject(session: Session, territory_id: int, kind: str, subject_id: int) -> str:
    """The subject's name; NotFound unless it belongs to the territory."""
    table = {"vehicle": t.Vehicle, "counsellor": t.Counsellor}.get(kind)
    row = session.get(table, subject_id) if table is not None else None  # type: ignore[arg-type]
    if row is None or row.territory_id != territory_id:  # type: ignore[attr-defined]
        raise NotFound(f"no {kind} {subject_id} in territory {territory_id}", "Véhicule ou conseiller inconnu.")
    return row.name  # type: ignore[attr-defined,no-any-return]


def issue(session: Session, *, territory_id: int, kind: str, subject_id: int, now: datetime) -> str:
    """Revoke the subject's live token, if any, and return a fresh one."""
    _subject(session, territory_id, kind, subject_id)
    for live in session.exec(
        select(t.AccessToken).where(
            t.AccessToken.kind == kind, t.AccessToken.subject_id == subject_id, col(t.AccessToken.revoked_at).is_(None)
        )
    ):
        live.revoked_at = now
        session.add(live)
    session.flush()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(t.AccessToken(territory_id=territory_id, kind=kind, subject_id=subject_id, token=token, created_at=now))
    session.flush()
    logger.info("access token of %s %s rotated", kind, subject_id)
    return token


def resolve(session: Session, token: str, kind: str) -> t.AccessToken | None:
    """The live token of this kind, or None (unknown, revoked, or another kind)."""
    if not token or len(token) > 64:
        return None
    return session.exec(
        select(t.AccessToken).where(
            t.AccessToken.token == token, t.AccessToken.kind == kind, col(t.AccessToken.revoked_at).is_(None)
        )
    ).first()


def live_links(session: Session, territory_id: int, now: datetime, *, create_missing: bool = False) -> list[PrivateLink]:
    """Every vehicle's and counsellor's live link (issuing the missing ones when asked)."""
    subjects = [("vehicle", v.id, v.name) for v in session.exec(
        select(t.Vehicle).where(t.Vehicle.territory_id == territory_id, t.Vehicle.active == True).order_by(col(t.Vehicle.name))  # noqa: E712
    )] + [("counsellor", c.id, c.name) for c in session.exec(
        select(t.Counsellor).where(t.Counsellor.territory_id == territory_id, t.Counsellor.active == True).order_by(col(t.Counsellor.name))  # noqa: E712
    )]  # fmt: skip
    live = {
        (row.kind, row.subject_id): row
        for row in session.exec(
            select(t.AccessToken).where(t.AccessToken.territory_id == territory_id, col(t.AccessToken.revoked_at).is_(None))
        )
    }
    links = []
    for kind, subject_id, name in subjects:
        row = live.get((kind, subject_id))  # type: ignore[arg-type]
        if row is None:
            if not create_missing:
                continue
            token = issue(session, territory_id=territory_id, kind=kind, subject_id=subject_id, now=now)  # type: ignore[arg-type]
            links.append(PrivateLink(kind=kind, subject_id=subject_id, subject_name=name, token=token, created_at=now))  # type: ignore[arg-type]
        else:
            links.append(PrivateLink(kind=kind, subject_id=subject_id, subject_name=name, token=row.token, created_at=row.created_at))  # type: ignore[arg-type]
    return links


def rotate_access_token(command: commands.RotateAccessToken, *, uow: UnitOfWork, clock: Clock) -> str:
    with uow:
        token = issue(
            uow.session, territory_id=command.territory_id, kind=command.kind, subject_id=command.subject_id, now=clock.now()
        )
        uow.commit()
        return token
