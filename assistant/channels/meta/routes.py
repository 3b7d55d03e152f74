"""Meta's webhook: verification, signed notifications into the durable inbox, statuses.

Documented in "Webhooks - Getting Started" and "Create a webhook endpoint" (see
docs/meta-cloud-api-notes.md): Meta verifies the endpoint with a GET carrying
`hub.mode=subscribe`, `hub.verify_token` and `hub.challenge` (answered with the challenge
as plain text), then POSTs notifications signed with `X-Hub-Signature-256` (HMAC-SHA256 of
the raw body with the app secret), in batches, and retries any it did not get a 200 for
during 36 hours: a message is recorded once per message id, and 200 comes back only when
every message of the batch is in the inbox (or the spool).
"""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

import hmac
import logging
import re

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from assistant.channels.base import profile_name, public_base, user_text
from assistant.channels.meta.payloads import Message, Notification, Status, signature_valid
from assistant.core import normalize_phone
from assistant.models import InboundMedia, InboundMessage
from assistant.spool import Refused
from assistant.web.routes import Web

log = logging.getLogger("webhook")

PATH = "/meta/webhook"
# Kinds that carry nothing to keep and ask for nothing: no reply (a reaction to one of
# our messages, a number change notice).
_SILENT = {"reaction", "system"}
# Kinds passed on as text: what the user chose on a button or list.
_AS_TEXT = {"text", "interactive", "button"}
# What Meta's ids look like (a phone number's digits; numeric media ids): anything else is
# refused rather than put in a URL path or used as an owner.
_WA_ID = re.compile(r"\+?[0-9]{6,15}")
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def inbound_message(message: Message, profile: str | None) -> InboundMessage | None:
    """A notification's message as an InboundMessage; None for what needs no answer or
    cannot be answered by phone number."""
    if not message.from_ or not message.id:
        # A person known only by a username (no phone number shared): nothing here can
        # answer them yet.
        log.warning("Meta message %s without a phone number: not handled", message.id)
        return None
    if not _WA_ID.fullmatch(message.from_):
        log.warning("Meta message %s from %r: not a phone number", message.id, message.from_)
        return None
    kind = message.kind
    if kind in _SILENT:
        return None
    media: list[InboundMedia] = []
    text = ""
    if message.media is not None:
        found = message.media
        if not _MEDIA_ID.fullmatch(found.id or ""):
            log.warning("Meta message %s: media id %r refused", message.id, found.id)
            return None
        media = [InboundMedia(media_id=found.id, content_type=found.mime_type, sha256=found.sha256)]
        text = found.caption or ""
    elif kind in _AS_TEXT:
        text = message.plain_text or ""
    else:
        # A location, a contact card, an order, a type Meta added later: answered with
        # "I can't handle that kind of message yet".
        media = [InboundMedia(content_type=f"application/x-whatsapp-{message.type}"[:255])]
    return InboundMessage(
        sender=f"+{message.from_.lstrip('+')}",
        text=user_text(text),
        media=media,
        channel="meta",
        message_id=message.id,
        profile_name=profile_name(profile),
    )


def status_text(status: Status) -> str:
    """What the outbox keeps of a status: the status, and a failure's code and words."""
    if status.status == "failed" and status.errors:
        error = status.errors[0]
        words = error.title or error.message or ""
        return f"failed: {error.code} {words}".strip()[:200]
    return status.status[:200]


def router(web: Web) -> APIRouter:
    routes = APIRouter()
    settings = web.settings

    @routes.get(PATH, include_in_schema=False)
    async def verify(request: Request) -> Response:
        query = request.query_params
        expected = settings.meta_verify_token or ""
        given = query.get("hub.verify_token", "")
        if (
            expected
            and query.get("hub.mode") == "subscribe"
            and hmac.compare_digest(given.encode(), expected.encode())
        ):
            return PlainTextResponse(query.get("hub.challenge", ""))
        raise HTTPException(403, "verification failed")

    @routes.post(PATH, include_in_schema=False)
    async def notification(request: Request) -> Response:
        secret = settings.meta_app_secret
        if not secret:
            raise HTTPException(503, "META_APP_SECRET is not set")
        body = await request.body()
        # Checked on the raw bytes, before anything is parsed.
        if not signature_valid(body, request.headers.get("x-hub-signature-256"), secret):
            log.warning("bad Meta signature")
            raise HTTPException(403, "invalid signature")
        try:
            parsed = Notification.model_validate_json(body)
        except ValidationError:
            raise HTTPException(400, "not a notification") from None
        base = public_base(str(request.url), settings.public_base_url)
        for _phone_number_id, message, profile in parsed.inbound():
            try:
                inbound = inbound_message(message, profile)
            except ValidationError as exc:
                # One message we cannot store must not make Meta retry the whole batch.
                log.warning("Meta message %s refused: %s", message.id, exc.errors()[:1])
                continue
            if inbound is None:
                continue
            owner = normalize_phone(inbound.sender)
            try:
                await run_in_threadpool(web.recorder.record, owner, inbound, base)
            except OSError:
                log.exception("Meta message %s could not be recorded", message.id)
                raise HTTPException(503, "temporarily unable to record the message") from None
            except Refused as exc:
                log.error("Meta message %s refused by the database: %s", message.id, exc)
        for _phone_number_id, status in parsed.status_updates():
            if status.id and status.status:
                await run_in_threadpool(
                    web.services.outbox.update_status, "meta", status.id, status_text(status)
                )
        return PlainTextResponse("OK")

    return routes
