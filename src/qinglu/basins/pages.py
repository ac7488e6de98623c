"""Basin pages: the province's overview, a basin's schematic of sections coloured by
water class per month (ECharts) with its statements and settlement table, and a
statement with the rows behind every figure (and its verification, for anyone)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from qinglu.basins import actions
from qinglu.core.principal import Principal
from qinglu.web import pages as web_pages
from qinglu.web.filters import install as install_filters
from qinglu.web.pages import SessionDep, UserDep, csrf_token, language, require_user

router = APIRouter(include_in_schema=False)
# The basin templates first, then the shared ones they extend (base.html).
templates = Jinja2Templates(env=install_filters(Environment(
    loader=ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")),
                         web_pages.templates.env.loader]),  # type: ignore[list-item]
    autoescape=True)))
CLASS_COLOURS = {"I": "#3fa7d6", "II": "#2d7dd2", "III": "#2f9e44", "IV": "#f2c12e",
                 "V": "#f08c00", "劣V": "#d62828"}
READERS = actions.READERS
Year = Annotated[int | None, Query(ge=1990, le=2100)]


def _render(request: Request, template: str, user: Principal | None, **context: Any
            ) -> HTMLResponse:
    lang = language(request)

    def translate(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return templates.TemplateResponse(request, template, {
        "user": user, "lang": lang, "_": translate, "csrf": csrf_token(request),
        "colours": CLASS_COLOURS, **context})


@router.get("/basins", response_class=HTMLResponse)
def overview_page(request: Request, session: SessionDep, user: UserDep,
                  year: Year = None) -> HTMLResponse:
    who = require_user(user, *READERS)
    data = actions.overview(session, who, year)
    return _render(request, "basins.html", user, data=data, year=data["year"])


@router.get("/basins/statements/{number}", response_class=HTMLResponse)
def statement_page(request: Request, number: str, session: SessionDep, user: UserDep,
                   p: Annotated[str | None, Query(max_length=8000)] = None) -> HTMLResponse:
    """The statement for signed-in readers; its verification for anyone (the QR's link)."""
    check = actions.verify_statement(session, request.app.state.registry_key, number=number,
                                     payload=p)
    view = None
    if user is not None and user.role in READERS:
        view = actions.statement_view(session, user, number)
    elif check.get("facts") is None:
        raise actions.UnknownStatement(f"核算单 {number} 不存在", f"unknown statement {number}")
    return _render(request, "basin_statement.html", user, check=check, view=view,
                   number=number)


@router.get("/basins/statements/{number}/statement.pdf", response_class=Response)
def statement_pdf(number: str, session: SessionDep, user: UserDep) -> Response:
    who = require_user(user, *READERS)
    return Response(actions.statement_pdf(session, who, number), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})


@router.get("/basins/statements/{number}/lines.csv", response_class=Response)
def statement_csv(number: str, session: SessionDep, user: UserDep) -> Response:
    who = require_user(user, *READERS)
    return Response(actions.statement_csv(session, who, number),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{number}.csv"'})


@router.get("/basins/{code}/statements.csv", response_class=Response)
def year_csv(code: str, session: SessionDep, user: UserDep, year: Year = None) -> Response:
    who = require_user(user, *READERS)
    return Response(actions.year_csv(session, who, code, year),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}.csv"'})


def schematic(detail: dict[str, Any]) -> dict[str, Any]:
    """What the ECharts schematic draws: sections in river order, and per month each
    section's class (quality) or whether its quantity attained, with its money."""
    by_cell = {(s["section"], s["period"]): s for s in detail["statements"]}
    sections = [{"code": s["code"], "name": s["name"], "kind": s["kind"],
                 "upstream": s["upstream"]["name"], "downstream": s["downstream"]["name"]}
                for s in detail["sections"]]
    months = []
    for month in detail["months"]:
        cells = []
        for section in detail["sections"]:
            found = by_cell.get((section["code"], month))
            cells.append({"class": found["class"] if found else None,
                          "to_upstream_yuan": found["to_upstream_yuan"] if found else None,
                          "number": found["number"] if found else None})
        months.append({"month": month, "cells": cells})
    return {"sections": sections, "months": months}


@router.get("/basins/{code}", response_class=HTMLResponse)
def basin_page(request: Request, code: str, session: SessionDep, user: UserDep,
               year: Year = None) -> HTMLResponse:
    who = require_user(user, *READERS)
    detail = actions.basin_detail(session, who, code, year)
    return _render(request, "basin.html", user, basin=detail, chart=schematic(detail))

