"""The Users page's JSON: who may use the assistant over WhatsApp, their usage and limits,
and the invite codes (`assistant/access`). Behind `AdminGate` like every admin route.

Cross-site requests: the session cookie is SameSite=Strict, so another site's form or
script reaches these POSTs without it (401). On top of that a POST whose `Origin` is not
this site is refused, and bodies are JSON only (a cross-site form cannot send
`application/json` without a CORS preflight, which the app's empty CORS policy refuses).
"""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.access import (
    Invite,
    Invites,
    UnknownNumber,
    Users,
    UsersPage,
    normalize_number,
    qr_png,
    wa_link,
)
from assistant.access.directory import Status
from assistant.models import Language
from assistant.web.routes import Web

Model = TypeVar("Model", bound=BaseModel)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str = Field(default="", max_length=40)
    status: Status | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=200)


class LimitsBody(BaseModel):
    """Overrides to set; a field given as null goes back to the default."""

    model_config = ConfigDict(extra="forbid")

    photos_per_day: int | None = Field(default=None, ge=0, le=1_000_000)
    storage_mb: int | None = Field(default=None, ge=0, le=10_000_000)
    voice_minutes_per_day: float | None = Field(default=None, ge=0, le=100_000)
    tokens_per_day: int | None = Field(default=None, ge=0, le=1_000_000_000)
    images_per_day: int | None = Field(default=None, ge=0, le=100_000)


class InviteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200)
    uses: int = Field(default=1, ge=1, le=100_000)
    # None or 0: never expires.
    expires_hours: float | None = Field(default=24 * 7, ge=0, le=24 * 3650)
    language: Language = "pt"


class InviteOut(BaseModel):
    id: int
    code: str
    label: str
    uses: int
    max_uses: int
    state: str
    expires_at: datetime | None
    created_at: datetime
    link: str
    qr: str


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )


def _valid(model: type[Model], data: Any) -> Model:
    """400 naming what is wrong, not FastAPI's 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HTTPException(400, _problems(exc)) from None


def same_origin(public_base_url: str | None) -> Any:
    """A POST from a page of another site is refused even if it somehow carried a session
    (a browser sends `Origin` with every cross-origin POST; scripts without one are
    not browsers and need the token anyway). Ours: the `Host` asked for, or the public
    address (a tunnel may rewrite `Host`)."""
    public = urlsplit(public_base_url or "").netloc.lower()

    def check(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None:
            return
        netloc = urlsplit(origin).netloc.lower()
        if not netloc or netloc not in (request.headers.get("host", "").lower(), public):
            raise HTTPException(403, "cross-site request refused")

    return check


async def json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(400, "send the body as application/json")
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def _number(phone: str) -> str:
    number = normalize_number(phone[:40])
    if not 8 <= len(number) <= 17:
        raise HTTPException(400, f"not a phone number: {phone[:40]!r}")
    return number


def _invite_id(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) < 2**62:
        raise HTTPException(400, f"not an invite id: {value[:20]!r}")
    return int(value)


def page_query(request: Request) -> PageQuery:
    return _valid(PageQuery, {k: v for k, v in request.query_params.items() if v != ""})


def router(web: Web) -> APIRouter:
    routes = APIRouter(prefix="/admin")
    post = Depends(same_origin(web.settings.public_base_url))
    db = web.services.db

    def users() -> Users:
        return Users(db, web.settings)

    def invites() -> Invites:
        return web.services.gate.invites

    def bot_number() -> str:
        return (web.settings.twilio_whatsapp_from or "").removeprefix("whatsapp:")

    def invite_out(invite: Invite, language: str = "pt") -> InviteOut:
        return InviteOut(
            **invite.model_dump(exclude={"code", "revoked_at"}),
            code=invite.shown,
            state=invite.state(datetime.now(UTC)),
            link=wa_link(bot_number(), invite.code, language),
            qr=f"/admin/invites/{invite.id}/qr.png",
        )

    def known(phone: str) -> str:
        number = _number(phone)
        if users().status_of(number) is None:
            raise HTTPException(404, f"{number} has never written and was not added")
        return number

    def act(phone: str, action: str) -> dict[str, Any]:
        view = users()
        try:
            number = getattr(view, action)(phone)
        except UnknownNumber as exc:
            raise HTTPException(400, str(exc)) from None
        return {"phone": number, "status": view.status_of(number)}

    @routes.get("/users")
    def users_page(query: Annotated[PageQuery, Depends(page_query)]) -> UsersPage:
        return users().page(query.search, query.status, query.page, query.per_page)

    @routes.post("/users/{phone}/approve", dependencies=[post])
    def approve(phone: str) -> dict[str, Any]:
        return act(_number(phone), "approve")

    @routes.post("/users/{phone}/block", dependencies=[post])
    def block(phone: str) -> dict[str, Any]:
        return act(_number(phone), "block")

    @routes.post("/users/{phone}/unblock", dependencies=[post])
    def unblock(phone: str) -> dict[str, Any]:
        return act(known(phone), "unblock")

    @routes.post("/users/{phone}/remove", dependencies=[post])
    def remove(phone: str) -> dict[str, Any]:
        return act(known(phone), "remove")

    @routes.post("/users/{phone}/limits", dependencies=[post])
    def limits(phone: str, body: Annotated[dict[str, Any], Depends(json_body)]) -> dict[str, Any]:
        changes = _valid(LimitsBody, body).model_dump(include=set(body))
        # Only numbers that wrote or were added: limits for a typo must not let it in.
        number = known(phone)
        try:
            result = users().set_limits(number, changes)
        except ValidationError as exc:
            raise HTTPException(400, _problems(exc)) from None
        return {"phone": number, "limits": result.model_dump()}

    @routes.get("/invites")
    def invite_list() -> dict[str, Any]:
        return {"invites": [invite_out(i) for i in invites().list()]}

    @routes.post("/invites", dependencies=[post])
    def invite_create(body: Annotated[dict[str, Any], Depends(json_body)]) -> InviteOut:
        wanted = _valid(InviteBody, body)
        hours = wanted.expires_hours
        invite = invites().create(
            wanted.label, wanted.uses, timedelta(hours=hours) if hours else None
        )
        return invite_out(invite, wanted.language)

    @routes.post("/invites/{invite_id}/revoke", dependencies=[post])
    def invite_revoke(invite_id: str) -> dict[str, Any]:
        number = _invite_id(invite_id)
        if not invites().revoke(number):
            raise HTTPException(404, f"no invite {number} that is not already revoked")
        return {"revoked": number}

    @routes.get("/invites/{invite_id}/qr.png")
    def invite_qr(invite_id: str) -> Response:
        number = _invite_id(invite_id)
        found = next((i for i in invites().list() if i.id == number), None)
        if found is None:
            raise HTTPException(404, f"no invite {number}")
        png = qr_png(wa_link(bot_number(), found.code))
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    return routes
