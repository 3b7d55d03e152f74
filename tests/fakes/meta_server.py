"""A local stand-in for Meta's Graph API as the WhatsApp Cloud API uses it, plus builders of
the webhook notifications Meta would send. Every behaviour is sourced (or marked as our
choice) in docs/meta-cloud-api-notes.md.

Three listeners on 127.0.0.1, each its own origin:
- graph: `GET /{version}/{media-id}` answers the media info with a URL on the media host;
  `POST /{version}/{phone-number-id}/messages` records the message and answers like Meta.
  A wrong bearer token gets 401 with Graph error 190, an unknown id 400 with code 100.
- lookaside (standing in for lookaside.fbsbx.com): serves a media URL only with the bearer
  token, until the URL expires (`url_ttl`, 5 minutes by default); a failed download is
  404, as Meta's "Media" page says.
- cdn: where a lookaside URL redirects when the media was added with `redirect=True` (a
  realistic variant, not documented). It serves anyone and records what it is sent, so a
  test can check that the token never leaves Meta's hosts.

Sends can be told to fail (`send_failures`: Graph errors with the HTTP status Meta's table
gives, or a proxy's raw 5xx), a phone-number-id marked unknown, the token expired, and the
clock moved (`advance`) to expire media URLs without sleeping.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from assistant.channels.meta.payloads import (
    CAPTION_MAX_CHARS,
    DOCUMENTED_ERRORS,
    MEDIA_URL_TTL_SECONDS,
    TEXT_BODY_MAX_CHARS,
)
from tests.fakes.http_handler import QuietHandler, QuietServer

GRAPH_VERSION = "v25.0"
ACCESS_TOKEN = "test-meta-token"
APP_SECRET = "test-app-secret"
# The identifiers of Meta's own webhook example ("Webhooks overview").
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
USER_WA_ID = "16505551234"
USER_NAME = "Sheena Nelson"
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
MEDIA_PATH = "/whatsapp_business/attachments/"

_GRAPH_NODE = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<node>[^/]+)/?$")
_GRAPH_MESSAGES = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<node>[^/]+)/messages/?$")
_MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
_ids = itertools.count(1)


# --- Graph errors --------------------------------------------------------------------


def graph_error(
    code: int,
    *,
    details: str | None = None,
    message: str | None = None,
    subcode: int | None = None,
    error_type: str = "OAuthException",
) -> dict[str, Any]:
    """A Graph error body as "WhatsApp error codes" shows it: the title inside `message`
    as "(#code) title", the explanation in `error_data.details`."""
    title = DOCUMENTED_ERRORS.get(code, ("Unknown error", 400))[0]
    error: dict[str, Any] = {
        "message": message or f"(#{code}) {title}",
        "type": error_type,
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or title},
        "fbtrace_id": f"AFakeTrace{next(_ids)}",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@dataclass
class GraphFailure:
    """One scripted failure: what the next request is answered with."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def of(cls, code: int, *, status: int | None = None, **error: Any) -> GraphFailure:
        """A Graph error with the HTTP status Meta's error table gives for `code`."""
        status = status or DOCUMENTED_ERRORS.get(code, ("", 400))[1]
        return cls(status, json.dumps(graph_error(code, **error)).encode())

    @classmethod
    def raw(cls, status: int, body: bytes = b"", content_type: str = "text/html") -> GraphFailure:
        """A failure that is no Graph error at all, like a proxy's 502 page."""
        return cls(status, body, content_type)


def _unknown_object(node: str, verb: str) -> GraphFailure:
    # What Graph answers for an id it cannot load (code 100, subcode 33), as observed.
    message = (
        f"Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return GraphFailure.of(100, message=message, subcode=33, error_type="GraphMethodException")


# --- the fake ------------------------------------------------------------------------


@dataclass
class MediaItem:
    data: bytes
    mime_type: str
    sha256: str  # as Meta declares it, in the notification and in the media info
    redirect: bool = False


@dataclass
class Seen:
    """A request one of the hosts received."""

    host: Literal["graph", "lookaside", "cdn"]
    method: str
    path: str
    authorization: str | None


@dataclass
class Sent:
    """A message the fake accepted."""

    phone_number_id: str
    version: str
    body: dict[str, Any]
    message_id: str

    @property
    def to(self) -> str:
        return str(self.body.get("to", ""))

    @property
    def text(self) -> str | None:
        text = self.body.get("text")
        return text.get("body") if isinstance(text, dict) else None


def meta_sha256(data: bytes, encoding: Literal["hex", "base64"] = "hex") -> str:
    """The SHA-256 of media as Meta declares it; hex or base64 (see the notes)."""
    digest = hashlib.sha256(data)
    return digest.hexdigest() if encoding == "hex" else base64.b64encode(digest.digest()).decode()


class FakeMeta:
    def __init__(
        self,
        *,
        access_token: str = ACCESS_TOKEN,
        url_ttl: float = MEDIA_URL_TTL_SECONDS,
        sha256_encoding: Literal["hex", "base64"] = "hex",
        graph_port: int = 0,
    ):
        self.access_token = access_token
        self.url_ttl = url_ttl
        self.sha256_encoding = sha256_encoding
        self.media: dict[str, MediaItem] = {}
        self.seen: list[Seen] = []
        self.sent: list[Sent] = []
        self.send_attempts = 0
        self.send_failures: list[GraphFailure] = []  # answers for the next sends
        self.media_info_failures: list[GraphFailure] = []  # ... and media-info requests
        self.unknown_phone_number_ids: set[str] = set()
        self.token_expired = False
        self.lock = threading.Lock()
        self._offset = 0.0
        self._url_key = secrets.token_bytes(16)
        self.graph = QuietServer(("127.0.0.1", graph_port), self._graph_handler())
        self.lookaside = QuietServer(("127.0.0.1", 0), self._media_handler("lookaside"))
        self.cdn = QuietServer(("127.0.0.1", 0), self._media_handler("cdn"))
        self._servers = (self.graph, self.lookaside, self.cdn)

    # --- lifecycle and addresses -----------------------------------------------------

    def start(self) -> FakeMeta:
        for server in self._servers:
            # A short poll: stop() waits for it, three servers per test.
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @staticmethod
    def _url(server: QuietServer) -> str:
        return f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def graph_url(self) -> str:
        return self._url(self.graph)

    @property
    def lookaside_url(self) -> str:
        return self._url(self.lookaside)

    @property
    def cdn_url(self) -> str:
        return self._url(self.cdn)

    def api_url(self, version: str = GRAPH_VERSION) -> str:
        return f"{self.graph_url}/{version}"

    # --- scripting -------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock, e.g. past a media URL's expiry."""
        self._offset += seconds

    def expire_token(self) -> None:
        self.token_expired = True

    def mark_unknown(self, phone_number_id: str) -> None:
        self.unknown_phone_number_ids.add(phone_number_id)

    def add_media(
        self,
        data: bytes,
        mime_type: str,
        *,
        media_id: str | None = None,
        declared_sha256: str | None = None,
        redirect: bool = False,
    ) -> str:
        """Register media a user sent; returns its media id. `declared_sha256` makes Meta
        declare another hash than the bytes have (tamper tests)."""
        media_id = media_id or str(1_000_000_000_000_000 + next(_ids))
        sha = declared_sha256 or meta_sha256(data, self.sha256_encoding)
        self.media[media_id] = MediaItem(data, mime_type, sha, redirect)
        return media_id

    def media_message(self, media_id: str, *, kind: str | None = None, **kw: Any) -> dict[str, Any]:
        """The webhook message for registered media, its kind taken from the MIME type."""
        item = self.media[media_id]
        if kind is None:
            top = item.mime_type.split("/")[0]
            kind = "sticker" if item.mime_type == "image/webp" else top
            kind = kind if kind in _MEDIA_TYPES else "document"
        builder = {"image": image, "audio": audio, "video": video, "document": document}
        build = builder.get(kind, sticker)
        return build(media_id, item.sha256, mime_type=item.mime_type, **kw)

    def seen_by(self, host: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.host == host]

    def sends_to(self, to: str) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.to == to]

    # --- behaviour -------------------------------------------------------------------

    def _auth_failure(self, authorization: str | None) -> GraphFailure | None:
        if authorization != f"Bearer {self.access_token}":
            message = "Invalid OAuth access token - Cannot parse access token"
            return GraphFailure.of(190, message=message)
        if self.token_expired:
            message = "Error validating access token: Session has expired"
            return GraphFailure.of(190, message=message, subcode=463)
        return None

    def _signed_query(self, media_id: str, expires: int) -> str:
        mac = hmac.new(self._url_key, f"{media_id}:{expires}".encode(), hashlib.sha256)
        return urlencode({"mid": media_id, "ext": expires, "hash": mac.hexdigest()[:32]})

    def _media_info(
        self, media_id: str, authorization: str | None
    ) -> GraphFailure | dict[str, Any]:
        with self.lock:
            failure = self._auth_failure(authorization) or (
                self.media_info_failures.pop(0) if self.media_info_failures else None
            )
        item = self.media.get(media_id)
        if failure or item is None:
            return failure or _unknown_object(media_id, "get")
        query = self._signed_query(media_id, int(self.now() + self.url_ttl))
        return {
            "messaging_product": "whatsapp",
            "url": f"{self.lookaside_url}{MEDIA_PATH}?{query}",
            "mime_type": item.mime_type,
            "sha256": item.sha256,
            "file_size": str(len(item.data)),  # a string, as in Meta's example
            "id": media_id,
        }

    def _valid_url(self, query: dict[str, list[str]]) -> MediaItem | None:
        media_id, expires = query.get("mid", [""])[0], query.get("ext", ["0"])[0]
        if not expires.isdigit() or int(expires) < self.now():
            return None
        expected = self._signed_query(media_id, int(expires))
        return self.media.get(media_id) if parse_qs(expected)["hash"] == query.get("hash") else None

    def _send(
        self, version: str, phone_number_id: str, authorization: str | None, raw: bytes
    ) -> GraphFailure | dict[str, Any]:
        with self.lock:
            self.send_attempts += 1
            failure = self._auth_failure(authorization)
            if failure is None and phone_number_id in self.unknown_phone_number_ids:
                failure = _unknown_object(phone_number_id, "post")
            if failure is None and self.send_failures:
                failure = self.send_failures.pop(0)
        if failure:
            return failure
        try:
            body = json.loads(raw)
        except ValueError:
            return GraphFailure.of(100, details="The request body is not valid JSON.")
        problem = _invalid(body)
        if problem:
            return GraphFailure.of(100, details=problem)
        sent = Sent(phone_number_id, version, body, wamid())
        with self.lock:
            self.sent.append(sent)
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": sent.to, "wa_id": re.sub(r"\D", "", sent.to)}],
            "messages": [{"id": sent.message_id}],
        }

    # --- HTTP ------------------------------------------------------------------------

    def _record(self, host: Any, handler: BaseHTTPRequestHandler) -> None:
        seen = Seen(host, handler.command, handler.path, handler.headers.get("Authorization"))
        with self.lock:
            self.seen.append(seen)

    def _graph_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Graph(QuietHandler):
            def _answer(self, result: GraphFailure | dict[str, Any] | None) -> None:
                if result is None:
                    result = GraphFailure.of(100, status=404, details="Unknown path components")
                if isinstance(result, GraphFailure):
                    _reply(self, result.status, result.body, result.content_type)
                else:
                    _reply(self, 200, json.dumps(result).encode())

            def do_GET(self) -> None:
                if self.path == "/__stats":  # for benchmarks/webhook_load.py
                    _reply(self, 200, json.dumps({"sends": len(fake.sent)}).encode())
                    return
                fake._record("graph", self)
                node = _GRAPH_NODE.match(urlsplit(self.path).path)
                auth = self.headers.get("Authorization")
                self._answer(fake._media_info(node["node"], auth) if node else None)

            def do_POST(self) -> None:
                fake._record("graph", self)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                route = _GRAPH_MESSAGES.match(urlsplit(self.path).path)
                auth = self.headers.get("Authorization")
                if route is None:
                    self._answer(None)
                    return
                self._answer(fake._send(route["version"], route["node"], auth, raw))

        return Graph

    def _media_handler(self, host: Literal["lookaside", "cdn"]) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Media(QuietHandler):
            def do_GET(self) -> None:
                fake._record(host, self)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if host == "lookaside":
                    # "If you directly click on the URL ... you get an access error."
                    if fake._auth_failure(self.headers.get("Authorization")):
                        _reply(self, 401, b"", "text/plain")
                        return
                    right_path = parts.path == MEDIA_PATH
                else:
                    right_path = parts.path == f"/v/{query.get('mid', [''])[0]}"
                item = fake._valid_url(query) if right_path else None
                if item is None:  # unknown, tampered with or expired: "404 Not Found"
                    _reply(self, 404, b"", "text/plain")
                elif host == "lookaside" and item.redirect:
                    target = f"{fake.cdn_url}/v/{query['mid'][0]}?{parts.query}"
                    _reply(self, 302, b"", "text/plain", Location=target)
                else:
                    _reply(self, 200, item.data, item.mime_type)

        return Media


def _reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    **headers: str,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.wfile.write(body)


def _invalid(body: Any) -> str | None:
    """What Meta would refuse in a send, as far as its pages state the rules."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    kind = body.get("type")
    content = body.get(kind) if isinstance(kind, str) else None
    if not body.get("to") or not isinstance(content, dict):
        return "to, type and an object of that type are required"
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text or len(text) > TEXT_BODY_MAX_CHARS:
            return f"text.body must be 1 to {TEXT_BODY_MAX_CHARS} characters"
    if kind in _MEDIA_TYPES:
        if ("id" in content) == ("link" in content):
            return f"{kind} needs exactly one of id and link"
        if len(str(content.get("caption", ""))) > CAPTION_MAX_CHARS:
            return f"{kind}.caption must be at most {CAPTION_MAX_CHARS} characters"
    return None


# --- webhook notifications ------------------------------------------------------------


def wamid() -> str:
    """A WhatsApp message id in Meta's shape ("wamid." and base64)."""
    return "wamid." + base64.b64encode(f"FAKE{next(_ids):016d}".encode()).decode()


def contact(
    wa_id: str | None = USER_WA_ID, name: str = USER_NAME, *, user_id: str | None = None
) -> dict[str, Any]:
    """A `contacts[]` entry; `wa_id=None` with a `user_id` is a user known by username."""
    entry: dict[str, Any] = {"profile": {"name": name}}
    if wa_id is not None:
        entry["wa_id"] = wa_id
    if user_id is not None:
        entry["user_id"] = user_id
    return entry


def _message(
    type_: str,
    payload: Any,
    *,
    sender: str | None = USER_WA_ID,
    user_id: str | None = None,
    context: dict[str, Any] | None = None,
    msg_id: str | None = None,
    timestamp: int | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"context": context} if context else {}
    if sender is not None:
        message["from"] = sender
    if user_id is not None:
        message["from_user_id"] = user_id
    message |= {"id": msg_id or wamid(), "timestamp": str(timestamp or int(time.time()))}
    message["type"] = type_
    if payload is not None:
        message[type_] = payload
    if errors:
        message["errors"] = errors
    return message


def _media(media_id: str, sha256: str, mime_type: str, **fields: Any) -> dict[str, Any]:
    extra = {key: value for key, value in fields.items() if value is not None}
    return {"mime_type": mime_type, "sha256": sha256, "id": media_id} | extra


def text(body: str, **kw: Any) -> dict[str, Any]:
    return _message("text", {"body": body}, **kw)


def image(
    media_id: str,
    sha256: str,
    *,
    mime_type: str = "image/jpeg",
    caption: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return _message("image", _media(media_id, sha256, mime_type, caption=caption), **kw)


def audio(
    media_id: str,
    sha256: str,
    *,
    mime_type: str = "audio/ogg; codecs=opus",
    voice: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    return _message("audio", _media(media_id, sha256, mime_type, voice=voice), **kw)


def video(
    media_id: str,
    sha256: str,
    *,
    mime_type: str = "video/mp4",
    caption: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return _message("video", _media(media_id, sha256, mime_type, caption=caption), **kw)


def document(
    media_id: str,
    sha256: str,
    *,
    mime_type: str = "application/pdf",
    filename: str = "file.pdf",
    caption: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    media = _media(media_id, sha256, mime_type, filename=filename, caption=caption)
    return _message("document", media, **kw)


def sticker(
    media_id: str,
    sha256: str,
    *,
    mime_type: str = "image/webp",
    animated: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    return _message("sticker", _media(media_id, sha256, mime_type, animated=animated), **kw)


def reaction(message_id: str, emoji: str | None, **kw: Any) -> dict[str, Any]:
    """`emoji=None` is a removed reaction: Meta then omits the field."""
    payload = {"message_id": message_id} | ({"emoji": emoji} if emoji is not None else {})
    return _message("reaction", payload, **kw)


def location(
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    place = {"latitude": latitude, "longitude": longitude, "name": name, "address": address}
    return _message("location", {k: v for k, v in place.items() if v is not None}, **kw)


def contacts_card(*cards: tuple[str, str], **kw: Any) -> dict[str, Any]:
    """A `contacts` message with one card per (formatted name, phone)."""
    payload = [
        {
            "name": {"formatted_name": name, "first_name": name.split()[0]},
            "phones": [{"phone": phone, "type": "CELL"}],
        }
        for name, phone in cards
    ]
    return _message("contacts", payload, **kw)


def button_reply(reply_id: str, title: str, **kw: Any) -> dict[str, Any]:
    payload = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return _message("interactive", payload, **kw)


def list_reply(reply_id: str, title: str, description: str = "", **kw: Any) -> dict[str, Any]:
    row = {"id": reply_id, "title": title, "description": description}
    return _message("interactive", {"type": "list_reply", "list_reply": row}, **kw)


def quick_reply(payload: str, label: str, **kw: Any) -> dict[str, Any]:
    """A tapped template quick-reply button: type `button`."""
    return _message("button", {"payload": payload, "text": label}, **kw)


def order(
    catalog_id: str, items: Iterable[dict[str, Any]], note: str = "", **kw: Any
) -> dict[str, Any]:
    payload = {"catalog_id": catalog_id, "text": note, "product_items": list(items)}
    return _message("order", payload, **kw)


def number_changed(new_wa_id: str, **kw: Any) -> dict[str, Any]:
    body = f"User changed from {kw.get('sender', USER_WA_ID)} to {new_wa_id}"
    payload = {"body": body, "wa_id": new_wa_id, "type": "user_changed_number"}
    return _message("system", payload, **kw)


def unsupported(actual_type: str | None = None, **kw: Any) -> dict[str, Any]:
    """A message Cloud API does not support: type `unsupported` with error 131051."""
    payload = {"type": actual_type} if actual_type else None
    error = webhook_error(
        131051, title="Message type unknown", details="Message type is currently not supported."
    )
    return _message("unsupported", payload, errors=[error], **kw)


def future_message(type_: str, payload: Any, **kw: Any) -> dict[str, Any]:
    """A message of a type Meta may add later."""
    return _message(type_, payload, **kw)


def reply_context(message_id: str, sender: str = DISPLAY_PHONE_NUMBER) -> dict[str, str]:
    """`context` of a reply to `message_id`, by default one the business sent."""
    return {"from": sender, "id": message_id}


def forwarded_context(frequently: bool = False) -> dict[str, bool]:
    return {"frequently_forwarded" if frequently else "forwarded": True}


def webhook_error(
    code: int, *, title: str | None = None, details: str | None = None
) -> dict[str, Any]:
    title = title or DOCUMENTED_ERRORS.get(code, ("Unknown error", 400))[0]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or title},
        "href": ERROR_CODES_URL,
    }


def status(
    message_id: str,
    state: str = "sent",
    *,
    recipient: str = USER_WA_ID,
    errors: list[dict[str, Any]] | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A `statuses[]` entry; a failed one carries `errors` instead of conversation/pricing."""
    entry: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient,
    }
    if errors:
        return entry | {"errors": errors}
    conversation: dict[str, Any] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
    if state == "sent":
        conversation["expiration_timestamp"] = str(int(time.time()) + 24 * 3600)
    pricing = {"billable": True, "pricing_model": "CBP", "category": "service"}
    return entry | {"conversation": conversation, "pricing": pricing}


def failed(message_id: str, code: int = 131026, **kw: Any) -> dict[str, Any]:
    return status(message_id, "failed", errors=[webhook_error(code, **kw)])


def notification(
    messages: Iterable[dict[str, Any]] = (),
    statuses: Iterable[dict[str, Any]] = (),
    contacts: Iterable[dict[str, Any]] | None = None,
    errors: Iterable[dict[str, Any]] = (),
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
    waba_id: str = WABA_ID,
) -> dict[str, Any]:
    """A webhook body for one business number. Without `contacts`, each sender gets one
    (named `USER_NAME` for `USER_WA_ID`); empty arrays are left out, as Meta does."""
    messages = list(messages)
    if contacts is None:
        senders = {(m.get("from"), m.get("from_user_id")) for m in messages}
        contacts = [
            contact(
                wa_id,
                USER_NAME if wa_id == USER_WA_ID else f"User {wa_id or user_id}",
                user_id=user_id,
            )
            for wa_id, user_id in sorted(senders, key=str)
        ]
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": metadata}
    arrays = {"contacts": list(contacts), "messages": messages}
    arrays |= {"statuses": list(statuses), "errors": list(errors)}
    value |= {key: items for key, items in arrays.items() if items}
    change = {"value": value, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [change]}]}


def merge(*notifications: dict[str, Any]) -> dict[str, Any]:
    """One body holding the entries of several notifications (Meta batches)."""
    entries = [entry for n in notifications for entry in n["entry"]]
    return {"object": "whatsapp_business_account", "entry": entries}


def encode(payload: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII escaped (our choice; the docs do not say how Meta
    serializes). The signature covers these exact bytes: verify the raw body, never a
    re-serialization of it."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header: "sha256=" and HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(payload: dict[str, Any], app_secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """A notification's body and the headers Meta sends with it."""
    body = encode(payload)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}
    return body, headers


def verification_query(verify_token: str, challenge: str = "1158201444") -> dict[str, str]:
    """The query of Meta's GET that verifies a callback URL ("Create a webhook endpoint")."""
    return {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fake Graph API (Meta's Cloud API).")
    parser.add_argument("--port", type=int, required=True, help="the Graph API's port")
    parser.add_argument("--access-token", default=ACCESS_TOKEN)
    args = parser.parse_args()
    fake = FakeMeta(access_token=args.access_token, graph_port=args.port).start()
    print(f"fake Graph API on {fake.graph_url}", flush=True)
    threading.Event().wait()
