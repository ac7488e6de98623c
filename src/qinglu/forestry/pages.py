"""Back office: monitoring reports. Verifiers approve or reject; operators issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from qinglu.core.errors import Forbidden, QingluError
from qinglu.forestry import monitoring, trees
from qinglu.forestry.models import Tree, TreeYear
from qinglu.forestry.report import render_monitoring_report
from qinglu.web.pages import SessionDep, UserDep, check_csrf, render, require_user

router = APIRouter(include_in_schema=False)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, session: SessionDep, user: UserDep,
                    message: str | None = None) -> HTMLResponse:
    who = require_user(user, "operator", "verifier")
    reports = [monitoring.report_view(r) for r in monitoring.list_reports(session)]
    return render(request, "monitoring.html", who, reports=reports, message=message)


@router.get("/monitoring/{report_id}/report.pdf")
def monitoring_pdf(report_id: int, session: SessionDep, user: UserDep) -> Response:
    require_user(user, "operator", "verifier")
    data = render_monitoring_report(session, monitoring.get_report(session, report_id))
    return Response(data, media_type="application/pdf")


@router.post("/monitoring/{report_id}/step", response_class=HTMLResponse)
def monitoring_step(request: Request, report_id: int, session: SessionDep, user: UserDep,
                    step: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
                    reasons: Annotated[str, Form()] = "") -> HTMLResponse:
    who = require_user(user, "operator", "verifier")
    check_csrf(request, csrf)
    allowed = {"verifier": ("approve", "reject"), "operator": ("issue",)}[who.role or ""]
    if step not in allowed:
        raise Forbidden(f"角色 {who.role} 不能执行 {step}", f"role {who.role} may not {step}")
    message = None
    try:
        if step == "approve":
            monitoring.approve(session, report_id=report_id, actor=who.actor)
        elif step == "reject":
            monitoring.reject(session, report_id=report_id, reasons=reasons, actor=who.actor)
        else:
            monitoring.issue(session, report_id=report_id, actor=who.actor)
    except QingluError as exc:
        message = exc.message
    return monitoring_page(request, session, user, message=message)


@router.get("/trees", response_class=HTMLResponse)
def trees_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """单株碳汇 Registered single trees and the tree-years issued for them (back office:
    trees carry households' data)."""
    who = require_user(user, "operator", "verifier")
    registered = session.scalars(select(Tree).order_by(Tree.project_id, Tree.number)).all()
    by_id = {t.number: t for t in registered}
    years = session.scalars(select(TreeYear).order_by(TreeYear.year.desc(),
                                                      TreeYear.tree_id)).all()
    return render(request, "trees.html", who, trees=[trees.tree_view(t) for t in registered],
                  years=[trees.tree_year_view(y, by_id) for y in years])
