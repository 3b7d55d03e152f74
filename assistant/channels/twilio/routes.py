"""Twilio's webhooks: verify the signature, record the message durably, acknowledge.

Nothing slow happens here: workers do the rest (`assistant/worker/`)."""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime,
# and they name a dependency local to `router`.

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from assistant.channels.base import public_base
from assistant.channels.twilio.webhook import (
    InvalidWebhook,
    parse_form,
    public_url,
    signature_valid,
)
from assistant.core import normalize_phone
from assistant.spool import Refused
from assistant.web.routes import Web

log = logging.getLogger("webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    settings = web.settings

    async def twilio_form(request: Request) -> dict[str, str]:
        """The form, after the signature check (403 when missing or wrong)."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if settings.twilio_validate:
            auth_token = settings.twilio_auth_token
            if not auth_token:
                raise HTTPException(503, "TWILIO_AUTH_TOKEN is not set")
            # request.url is what the peer asked for, with the scheme and host of a
            # trusted proxy applied (ForwardedHeaders); PUBLIC_BASE_URL overrides both.
            url = public_url(str(request.url), settings.public_base_url)
            signature = request.headers.get("x-twilio-signature")
            if not signature_valid(auth_token, url, form, signature):
                log.warning("bad Twilio signature for %s", url)
                raise HTTPException(403, "invalid signature")
        return form

    Form = Annotated[dict[str, str], Depends(twilio_form)]

    @routes.post("/whatsapp")
    async def whatsapp(request: Request, form: Form) -> Response:
        try:
            message = parse_form(form)
        except InvalidWebhook as exc:
            # Refused before it is acknowledged or spooled: a value the database cannot
            # store would otherwise block the spool behind it (issue #23).
            log.warning("invalid webhook refused: %s", exc)
            raise HTTPException(400, f"not a WhatsApp message we can store: {exc}") from None
        if not message.message_id:
            raise HTTPException(400, "MessageSid missing")
        base = public_base(str(request.url), settings.public_base_url)
        owner = normalize_phone(message.sender)
        try:
            new = await run_in_threadpool(web.recorder.record, owner, message, base)
        except OSError:
            # Neither the database nor the disk took it (a full disk included): refuse,
            # so Twilio retries it (with the connection overrides the README describes).
            log.exception("webhook %s could not be recorded", message.message_id)
            raise HTTPException(503, "temporarily unable to record the message") from None
        except Refused as exc:
            # The database refused the data itself: a retry would be refused again.
            log.error("webhook %s refused by the database: %s", message.message_id, exc)
            raise HTTPException(400, "message refused by the database") from None
        if not new:
            log.info("duplicate webhook for %s ignored", message.message_id)
        return Response(EMPTY_TWIML, media_type="text/xml")

    @routes.post("/twilio/status", include_in_schema=False)
    async def twilio_status(form: Form) -> Response:
        sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if sid and status:
            await run_in_threadpool(web.services.outbox.update_status, "twilio", sid, status)
        return Response(status_code=204)

    return routes
