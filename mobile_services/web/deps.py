"""Dependencies of the web routes, as ``Annotated`` aliases (STYLE.md item 7).

The app keeps its settings and message bus on ``app.state`` (set by
:func:`mobile_services.web.app.create_app`); routes ask for them by type. Twilio
webhooks ask for :data:`TwilioFormDep`, which reads the form itself, because the
signature must be checked on the exact parameters Twilio sent, before anything
else looks at them: a forged request is refused before it can store anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request, status

from config import Settings
from mobile_services.service_layer.messagebus import MessageBus
from notifications.webhooks import public_url, verify_signature

__all__ = [
    "MAX_WEBHOOK_BYTES",
    "BusDep",
    "SettingsDep",
    "TwilioForm",
    "TwilioFormDep",
    "get_bus",
    "get_settings",
    "signed_twilio_form",
]

logger = logging.getLogger(__name__)

#: Twilio's forms are a few hundred bytes; a 1,600-character body of emoji,
#: percent-encoded, stays under 20 KB. Anything larger is not Twilio.
MAX_WEBHOOK_BYTES = 64 * 1024
#: Twilio sends about twenty fields; many more is not Twilio either.
MAX_WEBHOOK_FIELDS = 200
_FORM_TYPE = "application/x-www-form-urlencoded"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_bus(request: Request) -> MessageBus:
    return request.app.state.bus  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
BusDep = Annotated[MessageBus, Depends(get_bus)]


@dataclass(frozen=True)
class TwilioForm:
    """The form fields of a webhook whose signature was checked, and its raw query string."""

    params: dict[str, list[str]]
    query: str


async def signed_twilio_form(request: Request, settings: SettingsDep) -> TwilioForm:
    """Read and parse the form, then check X-Twilio-Signature against PUBLIC_BASE_URL.

    400 for what no Twilio request looks like (not a form, bad encoding, too big: 413),
    403 for a missing or wrong signature. Both happen before any handler runs.
    """
    body = await _read_body(request)
    params = _parse_form(request, body)
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = public_url(settings.base_url, _app_path(request), query)
    signature = request.headers.get("x-twilio-signature")
    if not verify_signature(settings.twilio_auth_token.get_secret_value(), url, params, signature):
        logger.warning("webhook %s refused: %s signature", route_template(request), "wrong" if signature else "missing")
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid signature")
    return TwilioForm(params=params, query=query)


TwilioFormDep = Annotated[TwilioForm, Depends(signed_twilio_form)]


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid content-length")
        if int(declared) > MAX_WEBHOOK_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "request too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "request too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_form(request: Request, body: bytes) -> dict[str, list[str]]:
    """Parse a urlencoded body strictly: invalid UTF-8 is a 400, never a guess or a 500."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != _FORM_TYPE:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected an urlencoded form")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_WEBHOOK_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid form encoding") from None
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def route_template(request: Request) -> str:
    """The matched route's template (``/r/{token}``), never the raw path: paths carry tokens."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "an unmatched path"))


def _app_path(request: Request) -> str:
    """The path inside the app: PUBLIC_BASE_URL carries any prefix a proxy strips."""
    path: str = request.scope.get("path", "/")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"
