"""Sending WhatsApp messages through Twilio's REST client, and asking its message log what
was sent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import requests
import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from assistant.channels.base import SendError, SendResult
from assistant.config import Settings

log = logging.getLogger(__name__)


TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending to a Twilio-compatible server instead."""

    def __init__(self, api_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.api_url = api_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        if url.startswith(TWILIO_API):
            url = self.api_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        *,
        api_url: str | None = None,
        http_client: TwilioHttpClient | None = None,
        status_callback: str | None = None,
        timeout: float = 15.0,
    ):
        if http_client is None:
            http_client = (
                RebasedHttpClient(api_url, timeout=timeout)
                if api_url
                else TwilioHttpClient(timeout=timeout)
            )
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_ = from_ if from_.startswith("whatsapp:") else f"whatsapp:{from_}"
        self.status_callback = status_callback

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        kwargs: dict[str, Any] = {"from_": self.from_, "to": to}
        if body:
            kwargs["body"] = body
        if media_url:
            kwargs["media_url"] = [media_url]
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise SendError(
                f"Twilio {exc.status} (code {exc.code}): {exc.msg}", retryable=retryable
            ) from exc
        except requests.exceptions.RequestException as exc:
            if _never_connected(exc):
                raise SendError(f"connection: {exc}", retryable=True) from exc
            # The request may have reached Twilio: resending could deliver it twice.
            raise SendError(f"no answer: {exc}", retryable=False, uncertain=True) from exc
        return SendResult(sid=str(message.sid), status=str(message.status or "queued"))

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        """The SID of a message we sent to `to` since `since` with this body, if Twilio has
        one (settles a send whose outcome we never learned). Raises SendError when Twilio
        cannot be asked."""
        try:
            messages = self.client.messages.list(
                to=to, from_=self.from_, date_sent_after=since - timedelta(minutes=1), limit=200
            )
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise SendError(f"cannot list messages: {exc}", retryable=True) from exc
        for message in messages:
            sid = str(message.sid)
            if sid in exclude or (message.body or "") != body:
                continue
            if with_media != (int(message.num_media or 0) > 0):
                continue
            return sid
        return None


def _never_connected(exc: requests.exceptions.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def build_sender(settings: Settings) -> TwilioSender | None:
    if not (twilio_configured(settings) and settings.twilio_whatsapp_from):
        return None
    assert settings.twilio_account_sid and settings.twilio_auth_token
    callback = (
        settings.public_base_url.rstrip("/") + "/twilio/status"
        if settings.public_base_url
        else None
    )
    return TwilioSender(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_whatsapp_from,
        api_url=settings.twilio_api_url,
        status_callback=callback,
    )
