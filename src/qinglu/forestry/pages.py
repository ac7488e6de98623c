"""Back office: monitoring reports. Verifiers approve or reject; operators issue. Each
step redirects to the list with a fixed notice about its report (a refresh never takes
it twice); a refusal shows the list again with the reason beside the report's row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qinglu.core.errors import Forbidden, QingluError
from qinglu.forestry import actions as forestry
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


# What each step's redirect says (a fixed key), about the report the address names, as
# the page lists it (its figures from the report itself, never words from the address).
STEP_NOTICES = {"approve": "report-approved", "reject": "report-rejected",
                "issue": "report-issued"}


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, session: SessionDep, user: UserDep,
                    message: str | None = None, report: int | None = None) -> HTMLResponse:
    require_user(user, "operator", "verifier")
    reports = forestry.monitoring_reports(session)
    noticed = (next((r for r in reports if r["id"] == report), None)
               if message in STEP_NOTICES.values() else None)
    return _monitoring_view(request, user, reports, notice=message if noticed else None,
                            noticed=noticed)


def _monitoring_view(request: Request, user: UserDep, reports: list[dict[str, Any]],
                     status: int = 200, **context: Any) -> HTMLResponse:
    who = require_user(user, "operator", "verifier")
    return render(request, "monitoring.html", who, status=status, reports=reports,
                  **{"notice": None, "noticed": None, "error": None, "form": {}, **context})


@router.get("/monitoring/{report_id}/report.pdf")
def monitoring_pdf(report_id: int, session: SessionDep, user: UserDep) -> Response:
    require_user(user, "operator", "verifier")
    data = forestry.monitoring_report_pdf(session, report_id)
    return Response(data, media_type="application/pdf")


@router.post("/monitoring/{report_id}/step", response_model=None)
def monitoring_step(request: Request, report_id: int, session: SessionDep, user: UserDep,
                    step: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
                    reasons: Annotated[str, Form()] = "") -> Response:
    who = require_user(user, "operator", "verifier")
    check_csrf(request, csrf)
    allowed = {"verifier": ("approve", "reject"), "operator": ("issue",)}[who.role or ""]
    if step not in allowed:
        raise Forbidden(f"角色 {who.role} 不能执行 {step}", f"role {who.role} may not {step}")
    try:
        if step == "approve":
            forestry.approve_report(session, report_id=report_id, actor=who.actor)
        elif step == "reject":
            forestry.reject_report(session, report_id=report_id, reasons=reasons,
                                   actor=who.actor)
        else:
            forestry.issue_report(session, report_id=report_id, actor=who.actor)
    except QingluError as exc:
        # Refused: the page again, the reason beside the report's row (the reasons
        # typed kept), in the page's language; nothing was written.
        return _monitoring_view(request, user, forestry.monitoring_reports(session),
                                status=422, error=exc.en if language(request) == "en"
                                else exc.zh, form={"report": report_id, "reasons": reasons})
    return RedirectResponse(f"/monitoring?message={STEP_NOTICES[step]}&report={report_id}",
                            status_code=303)


@router.get("/trees", response_class=HTMLResponse)
def trees_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """单株碳汇 Registered single trees and the tree-years issued for them (back office:
    trees carry households' data)."""
    who = require_user(user, "operator", "verifier")
    overview = forestry.trees_overview(session)
    return render(request, "trees.html", who, trees=overview["trees"], years=overview["years"])
