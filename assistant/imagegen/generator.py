"""Creating one image with the OpenAI Images API (`client.images.generate`), or any server
that speaks it (`OPENAI_BASE_URL`), and checking what comes back before anyone keeps it.

What the API does, per the `openai` SDK's documentation of `images.generate` (3.57) and
OpenAI's image generation guide:

- GPT image models (`gpt-image-1.5`, `gpt-image-1-mini`, the `gpt-image-2` family) always
  answer `b64_json` and take no `response_format`; they take `quality` low/medium/high/auto
  and `output_format`. The retired DALL·E models (a compatible server may still serve
  those names) answered with a `url` unless asked for `b64_json`, and took quality
  standard/hd. Other servers' models answer either way: both shapes are handled.
- A prompt the safety system refuses is a 400 with the code `moderation_blocked` (GPT
  image models, type `image_generation_user_error`) or `content_policy_violation`
  (DALL·E): it is never retried and the user is told.

Nothing is retried here: a generation takes tens of seconds and may be billed even when
its answer is lost, so a timeout, a 429 or a 5xx is reported to the user ("try again in a
moment") rather than doubled. The image then passes the same checks as a photo a user
sends (`inspect_image`: bytes, pixels, shape, type from the bytes), and a URL answer is
fetched only through the safe downloader under `ImageUrlRule`.

The answer is read raw (`with_raw_response`) and bounded before any parser sees it: an
answer inside the byte budget can still be millions of tiny JSON values (`[{},{},...]`
took 1.5 GB as SDK objects), and the base64 text has no `{`, `[` nor `,`, so counting
them bounds the values. A small pydantic model then validates the few fields used.
Whatever goes wrong once the server answered 200 is a `GenerationFailed` marked `billed`:
the image was paid for, and an exception would make the inbox retry (and pay) again.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx2
import openai
from openai import OpenAI
from pydantic import BaseModel, Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from assistant.config import Settings
from assistant.errors import MediaRejected
from assistant.imagegen.http import (
    AnswerTooLarge,
    ImageUrlRule,
    answer_budget,
    budgeted_client,
    exchange_of,
)
from assistant.media import ImageInfo, inspect_image
from assistant.media.download import Downloader, DownloadError, RefusedURL, TooLarge
from assistant.ops.prices import image_cost, image_cost_bound
from assistant.search.text import plain_text

log = logging.getLogger(__name__)

Reason = Literal["refused", "timeout", "busy", "config", "request", "bad_answer"]
# What a server says when its safety system refused the prompt (or the image it made).
_REFUSAL_CODES = {"moderation_blocked", "content_policy_violation"}
_REFUSAL_TYPES = {"image_generation_user_error"}
_REFUSAL_WORDS = ("safety system", "content policy")
_GPT_IMAGE = ("gpt-image-", "chatgpt-image-")
_DALLE = "dall-e-"
# The operator's settings, not the user's words: the account's quota, or a model, size or
# quality the server does not take.
_CONFIG_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
_CONFIG_PARAMS = {"model", "size", "quality", "output_format", "response_format", "n"}
_SETTING_CODES = {"invalid_value", "unsupported_value", "invalid_size", "model_not_found"}
# JSON structure an answer may hold: `{`, `[` and `,` (none of them in base64). A real
# answer has about 20; a revised prompt's commas add some.
MAX_ANSWER_STRUCTURE = 1000
MAX_REVISED_PROMPT_CHARS = 1000
MAX_IMAGE_TOKENS = 1_000_000  # what the server says one image used, bounded


class GenerationFailed(Exception):
    """No image: `reason` decides what the user is told; nothing was kept. `billed`: the
    provider may have charged for it (it answered 200, or had the whole request when the
    answer was lost), so it counts against the limits all the same."""

    def __init__(self, reason: Reason, detail: str = "", *, billed: bool = False):
        super().__init__(f"{reason}: {detail[:300]}")
        self.reason: Reason = reason
        self.detail = detail
        self.billed = billed


@dataclass(frozen=True)
class Generated:
    data: bytes
    info: ImageInfo
    model: str
    size: str
    quality: str
    shape: Literal["b64_json", "url"]
    revised_prompt: str | None = None
    tokens: int = 0  # input + output tokens, when the server reports them
    cost_usd: float | None = None  # list price; None when unknown


def _error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error")
    return inner if isinstance(inner, dict) else body


def refusal(exc: openai.APIStatusError) -> bool:
    """Whether the server's safety system refused the request (no retry can help)."""
    error = _error_body(exc)
    code = str(error.get("code") or exc.code or "")
    kind = str(error.get("type") or exc.type or "")
    said = str(error.get("message") or exc.message or "").lower()
    return (
        code in _REFUSAL_CODES
        or kind in _REFUSAL_TYPES
        or (exc.status_code == 400 and any(w in said for w in _REFUSAL_WORDS))
    )


def settings_problem(exc: openai.APIStatusError) -> bool:
    """Whether the operator must act: the account is out of quota or credit (a 429 that
    waiting does not cure), or a setting (model, size, quality) the server does not take."""
    error = _error_body(exc)
    code = str(error.get("code") or exc.code or "")
    kind = str(error.get("type") or exc.type or "")
    param = str(error.get("param") or exc.param or "")
    if code in _CONFIG_CODES or kind in _CONFIG_CODES:
        return True
    return (
        exc.status_code == 400
        and param != "prompt"
        and (param in _CONFIG_PARAMS or code in _SETTING_CODES)
    )


def classify(exc: Exception) -> GenerationFailed:
    """What an SDK error means for the user, and whether it was billed."""
    request = exc.request if isinstance(exc, openai.APIError) else None
    exchange = exchange_of(request if isinstance(request, httpx2.Request) else None)
    billed = exchange is not None and exchange.billed
    if isinstance(exc, openai.APITimeoutError):
        return GenerationFailed("timeout", str(exc), billed=billed)
    if isinstance(exc, openai.APIConnectionError):
        if isinstance(exc.__cause__, AnswerTooLarge):
            return GenerationFailed("bad_answer", str(exc.__cause__), billed=billed)
        if exchange is not None and exchange.expired:  # the watchdog closed the connection
            return GenerationFailed("timeout", f"deadline: {exc.__cause__!r}", billed=billed)
        return GenerationFailed("busy", f"{type(exc).__name__}: {exc.__cause__!r}", billed=billed)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if refusal(exc):
            return GenerationFailed("refused", exc.message, billed=billed)
        if settings_problem(exc) or status in (401, 403, 404) or 300 <= status < 400:
            # A redirect too: the configured address is not the API (never followed).
            return GenerationFailed("config", f"{status} {exc.message}", billed=billed)
        if status in (408, 409, 429) or status >= 500:
            return GenerationFailed("busy", f"{status} {exc.message}", billed=billed)
        return GenerationFailed("request", f"{status} {exc.message}", billed=billed)
    return GenerationFailed("busy", f"{type(exc).__name__}: {exc}", billed=billed)


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A field we only note (usage, size, revised prompt): a wrong one is dropped, the
    image it came with is still good."""
    try:
        return handler(value)
    except ValidationError:
        return None


_Noted = WrapValidator(_or_none)


class _Usage(BaseModel):
    total_tokens: int = 0


class _Item(BaseModel):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: Annotated[str | None, _Noted] = None


class _Answer(BaseModel):
    """The fields of an Images API answer this module reads (the SDK's `ImagesResponse`
    has more, all optional)."""

    data: list[_Item] = Field(min_length=1)
    size: Annotated[str | None, _Noted] = None
    quality: Annotated[str | None, _Noted] = None
    usage: Annotated[_Usage | None, _Noted] = None


class ImageGenerator:
    """One configured model, size and quality; `generate` makes one checked image."""

    def __init__(
        self,
        client: OpenAI,
        model: str,
        *,
        size: str = "1024x1024",
        quality: str = "medium",
        timeout: float = 120.0,
        max_image_bytes: int = 5 * 2**20,
        max_image_pixels: int = 50_000_000,
        url_rule: ImageUrlRule | None = None,
        downloader: Downloader | None = None,
    ):
        self.client = client
        self.model = model
        self.size = size
        self.quality = quality
        self.timeout = timeout
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.url_rule = url_rule or ImageUrlRule(str(client.base_url), None, "", False)
        self.downloader = downloader or Downloader(timeout=timeout)
        self.name = f"openai:{model}"

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageGenerator | None:
        """None when no model is configured, or image creation is switched off."""
        model = settings.openai_image_model.strip()
        key = settings.openai_api_key or ("no-key" if settings.openai_base_url else None)
        if not key or model.lower() in ("", "none", "off"):
            return None
        client = budgeted_client(
            api_key=key,
            base_url=settings.openai_base_url or None,
            timeout=settings.openai_image_timeout_seconds,
            max_bytes=answer_budget(settings.max_image_bytes),
        )
        rule = ImageUrlRule(
            str(client.base_url),
            settings.openai_api_key,
            settings.openai_image_url_hosts,
            configured=bool(settings.openai_base_url),
        )
        return cls(
            client,
            model,
            size=settings.openai_image_size,
            quality=settings.openai_image_quality,
            timeout=settings.openai_image_timeout_seconds,
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
            url_rule=rule,
            downloader=Downloader(timeout=settings.media_download_timeout_seconds),
        )

    @property
    def price(self) -> float | None:
        """The list price of one image with these settings (None: unknown)."""
        return image_cost(self.model, self.size, self.quality)

    def params(self, prompt: str) -> dict[str, Any]:
        """The request, shaped for the model's family (see the module docstring)."""
        params: dict[str, Any] = {"model": self.model, "prompt": prompt, "n": 1}
        params["size"] = self.size
        if self.model.startswith(_DALLE):
            # Legacy names on a compatible server: their quality words, and the image in
            # the answer rather than behind a URL.
            params["quality"] = "hd" if self.quality == "high" else "standard"
            params["response_format"] = "b64_json"
        else:
            params["quality"] = self.quality
        if self.model.startswith(_GPT_IMAGE):
            # JPEG: a fraction of PNG's bytes, well inside WhatsApp's 5 MB for images.
            params["output_format"] = "jpeg"
        return params

    @property
    def price_bound(self) -> float | None:
        """The most one image with these settings can cost ("auto": the dearest choice)."""
        return image_cost_bound(self.model, self.size, self.quality)

    def generate(self, prompt: str) -> Generated:
        try:
            raw = self.client.images.with_raw_response.generate(**self.params(prompt))
        except openai.OpenAIError as exc:
            raise classify(exc) from exc
        try:
            return self._checked(raw.http_response)
        except GenerationFailed as exc:
            exc.billed = True  # it answered 200: an image was made, and paid for
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a paid answer does, no retry
            log.exception("an Images API answer could not be read")
            raise GenerationFailed("bad_answer", f"{type(exc).__name__}", billed=True) from exc

    def _checked(self, response: httpx2.Response) -> Generated:
        body = response.content
        structure = body.count(b"{") + body.count(b"[") + body.count(b",")
        if structure > MAX_ANSWER_STRUCTURE:
            raise GenerationFailed("bad_answer", f"{structure} JSON values in the answer")
        try:
            answer = _Answer.model_validate_json(body)
        except ValidationError as exc:
            raise GenerationFailed("bad_answer", f"not an Images API answer: {exc}") from exc
        item = answer.data[0]
        shape: Literal["b64_json", "url"]
        if item.b64_json:
            data, shape = self._decoded(item.b64_json), "b64_json"
        elif item.url:
            data, shape = self._downloaded(item.url), "url"
        else:
            raise GenerationFailed("bad_answer", "neither b64_json nor url")
        try:
            info = inspect_image(data, self.max_image_bytes, self.max_image_pixels)
        except MediaRejected as exc:
            raise GenerationFailed("bad_answer", f"image refused: {exc}") from exc
        # The server says what it made ("auto" chosen for us); the price follows that.
        size = plain_text(answer.size or "", 32) or self.size
        quality = plain_text(answer.quality or "", 32) or self.quality
        tokens = answer.usage.total_tokens if answer.usage else 0
        revised = plain_text(item.revised_prompt or "", MAX_REVISED_PROMPT_CHARS)
        return Generated(
            data=data,
            info=info,
            model=self.model,
            size=size,
            quality=quality,
            shape=shape,
            revised_prompt=revised or None,
            tokens=min(max(tokens, 0), MAX_IMAGE_TOKENS),  # a server's number, bounded
            cost_usd=image_cost(self.model, size, quality),
        )

    def _decoded(self, text: str) -> bytes:
        if len(text) > answer_budget(self.max_image_bytes):
            raise GenerationFailed("bad_answer", f"{len(text)} base64 characters")
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise GenerationFailed("bad_answer", f"invalid base64: {exc}") from exc

    def _downloaded(self, url: str) -> bytes:
        def limit_for(content_type: str) -> int:
            # The bytes decide the type later; a page or a JSON error is not an image.
            if content_type and not content_type.startswith(("image/", "application/octet")):
                raise RefusedURL(f"not an image: {content_type}")
            return self.max_image_bytes

        try:
            return self.downloader.fetch(url, self.url_rule, limit_for).data
        except (RefusedURL, TooLarge) as exc:  # a host not allowed, not an image, too big
            raise GenerationFailed("bad_answer", f"{url[:100]}: {exc}") from exc
        except DownloadError as exc:  # an HTTP error, the network, too slow
            raise GenerationFailed("busy", f"{url[:100]}: {exc}") from exc
