"""Case pages: the case desk of each role. An authority's clerk opens and accounts a
fire case in one step, follows the case whole (parties, agreement, serials, payment,
documents, the timeline from the ledger), records an external accounting report and
closes the case; a verifier approves reports; the operator agrees, confirms payment,
retires and certifies. Every irreversible step is asked for, then confirmed on a page
that says what will happen, then done, with a redirect to a fixed notice (a refresh
never does it twice). Refusals are shown beside their field, in the page's language,
with what was typed kept. Who sees which case, units and the accounting date are the
actions' to decide."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qinglu.cases import actions as cases
from qinglu.core.errors import Forbidden, InvalidInput, QingluError
from qinglu.core.principal import ANONYMOUS, Principal
from qinglu.core.quantities import (
    AREA_UNIT_NAMES,
    area_unit,
    parse_area,
    parse_quantity,
    typed_date,
    typed_number,
)
from qinglu.methods.fire import CATEGORY_NAMES
from qinglu.registry import actions as registry
from qinglu.web.pages import (
    NOTICES,
    SessionDep,
    UserDep,
    check_csrf,
    language,
    render,
    require_user,
)
from qinglu.web.problems import field_named, read_field

router = APIRouter(include_in_schema=False)

# The notices the desk's redirects ask for (fixed keys: see web.pages.NOTICES).
NOTICES.update({
    "case-opened": ("已立案并完成核算", "the case is opened and accounted"),
    "report-recorded": ("外部核算报告已提交，待审核人审核",
                        "the external report is recorded and awaits a verifier"),
    "report-approved": ("核算报告已审核通过，核算义务已更新",
                        "the report is approved; the obligation is updated"),
    "case-agreed": ("已约定购买，碳汇已托管", "the purchase is agreed; the units are in escrow"),
    "case-paid": ("付款已确认", "the payment is confirmed"),
    "case-retired": ("已注销", "the units are retired"),
    "case-certified": ("证书与交易凭证已出具", "the certificate and voucher are issued"),
    "case-closed": ("已结案", "the case is closed"),
})

# Who may take each step from the desk (the API's dependencies say the same).
STEP_ROLES: dict[str, tuple[str, ...]] = {
    "external": ("verifier", "operator"), "approve": ("verifier",),
    "agree": ("operator",), "pay": ("operator",), "retire": ("operator",),
    "certify": ("operator",), "close": ("authority", "operator"),
}
STEP_NOTICES = {"external": "report-approved", "approve": "report-approved",
                "agree": "case-agreed", "pay": "case-paid", "retire": "case-retired",
                "certify": "case-certified", "close": "case-closed"}
STEP_FIELDS = ("quantity", "seller_account", "seller_account_pick", "price", "reference",
               "firm", "report_ref")


def _message(exc: QingluError, lang: str) -> str:
    return exc.zh if lang == "zh" else exc.en


# --- the list and the new-case form -------------------------------------------------

@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return _cases_view(request, session, user)


def _cases_view(request: Request, session: SessionDep, user: UserDep,
                form: Mapping[str, str] | None = None, errors: dict[str, str] | None = None,
                status: int = 200) -> HTMLResponse:
    who = user or ANONYMOUS
    visible = cases.visible_cases(session, who)
    form = dict(form or {})
    choices = {field: registry.search_holders(session, who, form[field])
               for field in ("defendant", "authority_holder_id")
               if errors and form.get(field) and field in errors}
    return render(request, "cases.html", user, status=status, cases=visible[::-1],
                  vegetation=CATEGORY_NAMES, area_units=AREA_UNIT_NAMES, form=form,
                  errors=errors or {}, choices=choices)


def _optional_number(text: str, zh: str, en: str) -> str | None:
    return typed_number(text, zh, en) if text.strip() else None


# A refusal from the action, shown beside the field it concerns.
ERROR_FIELDS = {"conflict": "number", "unknown-holder": "defendant",
                "invalid-identifier": "region", "area-unit-required": "unit"}


def _field_of(exc: QingluError) -> str:
    if exc.code in ERROR_FIELDS:
        return ERROR_FIELDS[exc.code]
    return field_named(exc, (("number", "case number"), ("fuel_consumed", "fuel"),
                             ("area", "area"), ("incident_date", "date"), ("region", "region"),
                             ("place", "place"), ("authority_holder_id", "authority")), "form")


@router.post("/cases/new", response_model=None)
async def new_case(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Open a fire case and account it, in one step: every field is read as typed (a
    decimal comma, full-width digits, a name for the defendant); any refusal shows the
    form again as typed, each message beside its field, and nothing is written."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    check_csrf(request, form.pop("csrf", None))
    who = user or ANONYMOUS
    lang = language(request)
    errors: dict[str, str] = {}

    def read(field: str, parse: Callable[[], Any]) -> Any:
        return read_field(errors, field, lang, parse)

    text = form.get
    defendant = read("defendant", lambda: registry.chosen_party(
        session, who, text("defendant", ""), text("defendant_pick", "")))
    authority = None
    if who.role == "operator":
        authority = read("authority_holder_id", lambda: registry.chosen_party(
            session, who, text("authority_holder_id", ""), text("authority_holder_id_pick", "")))
    incident_date = read("incident_date", lambda: typed_date(
        text("incident_date", ""), "事发日期", "incident date", "2026-03-14"))
    unit = read("unit", lambda: area_unit(text("unit", ""), value=text("area", "")))
    area = read("area", lambda: typed_number(text("area", ""), "过火面积", "burned area"))
    if area is not None and unit is not None:
        read("area", lambda: parse_area(area, unit))
    fuel = read("fuel_consumed", lambda: _optional_number(
        text("fuel_consumed", ""), "可燃物消耗量", "fuel consumed"))
    if not errors:
        evidence = {"vegetation": text("vegetation", ""), "area": area, "unit": unit,
                    "fuel_consumed": fuel}
        try:
            accounted = cases.open_fire_case(
                session, who, authority_holder_id=authority, number=text("number", ""),
                authority_kind=text("authority_kind", ""), kind=text("kind", ""),
                defendant_holder_id=defendant, incident_date=incident_date,
                region=text("region", ""), place=text("place", ""), evidence=evidence)
        except QingluError as exc:
            if exc.status in (401, 403):
                raise
            errors[_field_of(exc)] = _message(exc, lang)
        else:
            return RedirectResponse(f"/cases/{accounted['id']}?message=case-opened",
                                    status_code=303)
    return _cases_view(request, session, user, form=form, errors=errors, status=422)


# --- one case's desk ------------------------------------------------------------------

@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, session: SessionDep, user: UserDep,
              message: str | None = None) -> HTMLResponse:
    return _desk(request, session, user, case_id, message=message)


def _desk(request: Request, session: SessionDep, user: UserDep, case_id: int,
          message: str | None = None, form: Mapping[str, str] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    who = user or ANONYMOUS
    case = cases.case_desk(session, who, case_id)
    accounting = case["accounting"] or {}
    result = accounting.get("result") if accounting.get("source") == "qinglu" else None
    form = dict(form or {})
    choices = {}
    if errors and "seller_account" in errors and form.get("seller_account"):
        choices["seller_account"] = registry.search_holders(session, who,
                                                            form["seller_account"])
    return render(request, "case.html", user, status=status, case=case, result=result,
                  message=message, form=form, errors=errors or {}, choices=choices)


@router.get("/cases/{case_id}/report.pdf")
def case_report(case_id: int, session: SessionDep, user: UserDep) -> Response:
    data = cases.case_report_pdf(session, user or ANONYMOUS, case_id)
    return Response(data, media_type="application/pdf")


@router.post("/cases/{case_id}/report", response_model=None)
def record_report(
    request: Request, case_id: int, session: SessionDep, user: UserDep,
    firm: Annotated[str, Form()] = "", report_ref: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "", csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """The clerk records an external accounting report; a verifier approves it later."""
    who = require_user(user, "authority", "operator")
    check_csrf(request, csrf)
    try:
        cases.record_external_report(session, who, case_id=case_id, firm=firm,
                                     report_ref=report_ref, stated_obligation=quantity)
    except QingluError as exc:
        if exc.status in (401, 403):
            raise
        field = "quantity" if "figure" in exc.en else "firm" if "firm" in exc.en else (
            "report_ref" if "reference" in exc.en else "report")
        return _desk(request, session, user, case_id, status=422,
                     form={"firm": firm, "report_ref": report_ref, "quantity": quantity},
                     errors={field: _message(exc, language(request))})
    return RedirectResponse(f"/cases/{case_id}?message=report-recorded", status_code=303)


def _step_user(user: Principal | None, step: str) -> Principal:
    if step not in STEP_ROLES:
        raise InvalidInput(f"未知步骤 {step}", f"unknown step {step}")
    who = require_user(user, *STEP_ROLES[step])
    return who


def _read_step(session: SessionDep, who: Principal, step: str, case_id: int,
               form: Mapping[str, str], lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The step's inputs read as typed, and what it will do (for the confirmation)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if step == "agree":
        quantity = read_field(errors, "quantity", lang,
                              lambda: parse_quantity("FCS", form.get("quantity", "")))
        seller = read_field(errors, "seller_account", lang, lambda: registry.chosen_party(
            session, who, form.get("seller_account", ""), form.get("seller_account_pick", ""),
            account=True))
        price = read_field(errors, "price", lang,
                           lambda: typed_number(form.get("price", ""), "单价", "price"))
        if quantity is not None and seller is not None and price is not None:
            preview = read_field(errors, "quantity", lang, lambda: cases.agreement_preview(
                session, who, case_id=case_id, quantity=quantity, seller_account_id=seller,
                price=price))
            values = {"quantity": quantity, "seller_account_id": seller, "price": price,
                      "preview": preview}
    elif step == "pay":
        reference = " ".join(form.get("reference", "").split())
        if not reference:
            errors["reference"] = _message(InvalidInput(
                "请填写付款凭证号", "enter the payment reference"), lang)
        values = {"reference": reference}
    elif step == "external":
        values = {"firm": form.get("firm", ""), "report_ref": form.get("report_ref", ""),
                  "quantity": form.get("quantity", "")}
    return values, errors


def _hidden(step: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The confirmed form's fields: the inputs as read (normalised), nothing else."""
    if step == "agree":
        return {"quantity": str(values["preview"]["quantity"]),
                "seller_account_pick": str(values["seller_account_id"]),
                "seller_account": str(values["seller_account_id"]),
                "price": str(values["price"])}
    return {key: str(value) for key, value in values.items() if key != "preview"}


@router.get("/cases/{case_id}/confirm", response_class=HTMLResponse)
def confirm_step(request: Request, case_id: int, session: SessionDep, user: UserDep,
                 step: str = "") -> HTMLResponse:
    """What the step will do, stated before it is done, with one button to do it."""
    who = _step_user(user, step)
    form = {key: request.query_params.get(key, "") for key in STEP_FIELDS}
    values, errors = _read_step(session, who, step, case_id, form, language(request))
    if errors:
        return _desk(request, session, user, case_id, form=form, errors=errors, status=422)
    case = cases.case_desk(session, who, case_id)
    return render(request, "case_confirm.html", user, case=case, step=step, values=values,
                  hidden=_hidden(step, values))


@router.post("/cases/{case_id}/step", response_model=None)
async def case_step(request: Request, case_id: int, session: SessionDep,
                    user: UserDep) -> Response:
    """Do a confirmed step (a step not yet confirmed is sent to its confirmation page)."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    step = form.get("step", "")
    who = _step_user(user, step)
    check_csrf(request, form.get("csrf"))
    if form.get("confirmed") != "1":
        fields = {key: form[key] for key in STEP_FIELDS if form.get(key)}
        return RedirectResponse(f"/cases/{case_id}/confirm?"
                                f"{urlencode({'step': step, **fields})}", status_code=303)
    lang = language(request)
    values, errors = _read_step(session, who, step, case_id, form, lang)
    if not errors:
        try:
            _do(request, session, who, step, case_id, values)
        except QingluError as exc:
            if exc.status in (401, 403):
                raise
            errors["quantity" if step in ("agree", "external") else "step"] = _message(exc, lang)
    if errors:
        return _desk(request, session, user, case_id, form=form, errors=errors, status=422)
    return RedirectResponse(f"/cases/{case_id}?message={STEP_NOTICES[step]}", status_code=303)


def _do(request: Request, session: SessionDep, who: Principal, step: str, case_id: int,
        values: Mapping[str, Any]) -> None:
    """The one action the confirmed step calls."""
    if step == "external":
        obligation, accounting = cases.external_report_accounting(
            firm=values["firm"], report_ref=values["report_ref"],
            stated_obligation=values["quantity"], approved_by=who.actor)
        cases.record_accounting(session, case_id=case_id, obligation=obligation,
                                accounting=accounting, actor=who.actor)
    elif step == "approve":
        cases.approve_external_report(session, who, case_id=case_id)
    elif step == "agree":
        cases.agree(session, case_id=case_id, quantity=values["quantity"],
                    seller_account_id=values["seller_account_id"], price=values["price"],
                    actor=who.actor)
    elif step == "pay":
        cases.pay(session, case_id=case_id, reference=values["reference"], actor=who.actor)
    elif step == "retire":
        cases.retire_for_case(session, case_id=case_id, actor=who.actor)
    elif step == "certify":
        cases.certify(session, case_id=case_id, key=request.app.state.registry_key,
                      actor=who.actor)
    elif step == "close":
        cases.close_case_for(session, who, case_id=case_id)
    else:  # pragma: no cover - _step_user refuses any other step
        raise Forbidden("未知步骤", "unknown step")
