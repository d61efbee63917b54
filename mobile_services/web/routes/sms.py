"""Twilio webhooks: inbound SMS (`POST /sms/inbound`) and delivery status (`POST /sms/status`).

Both are signed (see :mod:`mobile_services.web.deps`); both turn the form into a
bus command and answer what Twilio expects. Nothing here knows the dialogue:
the reply comes back from the ``ReceiveSms`` handler.

Bad input never becomes a 500: a form Twilio would not send is a 400, and if
handling fails on our side the resident gets a polite "try again" in TwiML
(nothing was stored, so sending again is safe). Logs carry the MessageSid and
the error type only: no phone number, no body, no exception text (database
errors quote the values they were given).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Response, status
from twilio.twiml.messaging_response import MessagingResponse

from mobile_services.conversation import SmsReply
from mobile_services.domain.commands import ReceiveSms, RecordDeliveryStatus
from mobile_services.domain.exceptions import NotFound, StatusCallbackRefused
from mobile_services.service_layer.booking import renderer
from mobile_services.web.deps import BusDep, SettingsDep, TwilioFormDep
from notifications.webhooks import (
    WebhookPayloadError,
    parse_inbound,
    parse_status_callback,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/sms", tags=["sms"])

#: Twilio SIDs are two letters and 32 hex digits; we accept any short token so a
#: future format does not break inbound SMS, but not an unbounded one.
_SID = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_TWIML = "application/xml"


@router.post("/inbound", response_class=Response)
def inbound_sms(form: TwilioFormDep, bus: BusDep, settings: SettingsDep) -> Response:
    """A resident's SMS: run the conversation once per MessageSid and answer in TwiML."""
    try:
        sms = parse_inbound(form.params)
    except WebhookPayloadError as exc:
        logger.warning("inbound webhook refused: %s", exc)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    if not _SID.match(sms.message_sid) or len(sms.from_number) > 64 or len(sms.to_number) > 64:
        logger.warning("inbound webhook refused: malformed MessageSid, From or To")
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "malformed MessageSid, From or To")
    command = ReceiveSms(
        message_sid=sms.message_sid,
        from_number=sms.from_number,
        to_number=sms.to_number,
        body=sms.body,
        opt_out_type=sms.opt_out_type,
    )
    try:
        reply: SmsReply = bus.handle(command)
    except Exception as exc:  # noqa: BLE001 - the resident gets an apology, the log the place
        _log_failure("inbound sms", sms.message_sid, exc)
        return twiml([renderer(settings.timezone).render("technical_error")])
    return twiml(reply.messages)


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delivery_status(form: TwilioFormDep, bus: BusDep) -> Response:
    """Twilio tells us what became of a message we sent; applying it twice changes nothing.

    Only a row that was sent, with the SID it was sent with, moves: an unknown id is a
    404, a row never sent or another SID a 409, an id that cannot be ours a 400.
    """
    try:
        callback = parse_status_callback(form.params, form.query)
    except WebhookPayloadError as exc:
        logger.warning("status callback refused: %s", exc)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    if not _SID.match(callback.message_sid):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "malformed MessageSid")
    command = RecordDeliveryStatus(
        message_sid=callback.message_sid,
        status=callback.message_status,
        error_code=str(callback.error_code) if callback.error_code is not None else None,
        outbox_id=callback.outbox_id,
    )
    try:
        bus.handle(command)
    except NotFound:
        logger.warning("status callback %s for an unknown outbox row refused", callback.message_sid)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown message") from None
    except StatusCallbackRefused as exc:
        logger.warning("status callback %s refused: %s", callback.message_sid, exc)
        raise HTTPException(status.HTTP_409_CONFLICT, "message not sent with this sid") from None
    except Exception as exc:  # noqa: BLE001 - Twilio retries nothing; the log must say where
        _log_failure("status callback", callback.message_sid, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "try again later") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def twiml(messages: Sequence[str]) -> Response:
    """A TwiML answer with one <Message> per SMS (none: an empty <Response/>, no SMS sent)."""
    response = MessagingResponse()
    for message in messages:
        response.message(message)
    return Response(content=str(response), media_type=_TWIML)


def _log_failure(what: str, sid: str, exc: BaseException) -> None:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    logger.error("%s %s failed: %s at %s", what, sid, type(exc).__name__, where)
