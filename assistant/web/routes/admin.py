"""The admin's pages and endpoints (the seed's paths). `AdminGate` lets only the admin
reach them, so no route here checks credentials itself."""

# No "from __future__ import annotations": FastAPI resolves these annotations at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from assistant.core import normalize_phone
from assistant.web.report import (
    ReportQuery,
    message_log,
    render_messages,
    render_report,
    report_data,
)
from assistant.web.routes import Web


def report_query(request: Request) -> ReportQuery:
    """The report's filters; a wrong one is a 400 that names it (a date out of
    2000-2100, a page of 0), not FastAPI's 422 nor, for a far date, a 500."""
    try:
        return ReportQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise HTTPException(400, "; ".join(problems)) from None


def router(web: Web) -> APIRouter:
    routes = APIRouter()

    def data_of(query: ReportQuery) -> dict[str, Any]:
        return report_data(
            web.services.db,
            web.services.catalog,
            web.services.store,
            query,
            web.settings.media_url_ttl_seconds,
            web.services.inbox,
            web.settings.model_budget_usd_per_day,
        )

    @routes.get("/report", response_class=HTMLResponse)
    def report(query: Annotated[ReportQuery, Depends(report_query)]) -> Response:
        return HTMLResponse(render_report(data_of(query)))

    @routes.get("/get-report-data")
    def get_report_data(query: Annotated[ReportQuery, Depends(report_query)]) -> dict[str, Any]:
        return data_of(query)

    @routes.get("/agent-messages")
    def agent_messages(
        request: Request,
        user: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> Response:
        rows = message_log(web.services.db, user, limit, offset)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(render_messages(rows, user))
        return JSONResponse({"messages": rows, "limit": limit, "offset": offset})

    @routes.get("/memory-content")
    def memory_content(user: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
        if user:
            return web.services.memory.content(normalize_phone(user))
        return {"users": web.services.memory.all_content()}

    @routes.get("/memory-status/{number}")
    def memory_status(number: str) -> dict[str, Any]:
        return web.services.memory.status(normalize_phone(number))

    @routes.post("/clear-memory")
    def clear_memory() -> dict[str, Any]:
        return {"cleared": web.services.memory.clear_all()}

    @routes.post("/clear-user-memory/{number}")
    def clear_user_memory(number: str) -> dict[str, Any]:
        user = normalize_phone(number)
        return {"user": user, "cleared": web.services.memory.clear(user)}

    return routes
