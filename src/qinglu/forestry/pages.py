"""Back office: monitoring reports. Verifiers approve or reject; operators issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from qinglu.core.errors import Forbidden, QingluError
from qinglu.forestry import actions as forestry
from qinglu.web.pages import SessionDep, UserDep, check_csrf, render, require_user

router = APIRouter(include_in_schema=False)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, session: SessionDep, user: UserDep,
                    message: str | None = None) -> HTMLResponse:
    who = require_user(user, "operator", "verifier")
    reports = forestry.monitoring_reports(session)
    return render(request, "monitoring.html", who, reports=reports, message=message)


@router.get("/monitoring/{report_id}/report.pdf")
def monitoring_pdf(report_id: int, session: SessionDep, user: UserDep) -> Response:
    require_user(user, "operator", "verifier")
    data = forestry.monitoring_report_pdf(session, report_id)
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
            forestry.approve_report(session, report_id=report_id, actor=who.actor)
        elif step == "reject":
            forestry.reject_report(session, report_id=report_id, reasons=reasons,
                                   actor=who.actor)
        else:
            forestry.issue_report(session, report_id=report_id, actor=who.actor)
    except QingluError as exc:
        message = exc.message
    return monitoring_page(request, session, user, message=message)


@router.get("/trees", response_class=HTMLResponse)
def trees_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """单株碳汇 Registered single trees and the tree-years issued for them (back office:
    trees carry households' data)."""
    who = require_user(user, "operator", "verifier")
    overview = forestry.trees_overview(session)
    return render(request, "trees.html", who, trees=overview["trees"], years=overview["years"])
