"""The case workflow: opened → accounted → agreed → paid → retired → certified → closed.

Each step is one ledger write carrying its actor. A step asked for out of order is
refused with InvalidTransition, saying where the case stands and what it needs.
The agreement escrows the seller's units at once (a hold), so nothing can sell
them between "agreed" and "paid"; the retirement retires exactly those units.

Who sees a case is decided here (`visible_cases`, `case_for`): operators and verifiers
see every case, an authority only its own, anyone else none. A fire is accounted on its
incident date (`account_with_fire_method` takes the date from the case; no caller
passes one), and an area is stored and accounted only with its unit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.cases.models import AUTHORITY_KINDS, CASE_KINDS, CASE_STEPS, Case
from qinglu.cases.report import render_case_report
from qinglu.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    choice,
    require_text,
)
from qinglu.core.identifiers import mask_id_number, validate_region
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.models import LedgerEntry, utcnow
from qinglu.core.money import money_amount, parse_price, price_text
from qinglu.core.principal import Principal
from qinglu.core.quantities import format_quantity, parse_area, typed_number
from qinglu.documents.actions import issue_in
from qinglu.documents.signing import RegistryKey
from qinglu.methods.fire import FireResult, estimate, fire_input
from qinglu.registry.actions import (
    get_account,
    get_holder,
    hold_in,
    public_name,
    retire_in,
)

PRODUCT = "FCS"
NEXT_STEP = {step: CASE_STEPS[i + 1] for i, step in enumerate(CASE_STEPS[:-1])}
SEES_EVERY_CASE = ("operator", "verifier")
CASE_READERS = (*SEES_EVERY_CASE, "authority")
# Who opens a case and accounts it with Qinglu's method: an authority (its own cases) or
# the exchange's operator (naming the authority).
CASE_OPENERS = ("operator", "authority")


class UnknownCase(NotFound):
    code = "unknown-case"




def case_view(case: Case, *, public: bool = False) -> dict[str, Any]:
    view = {
        "id": case.id, "number": case.number, "status": case.status,
        "authority_holder_id": case.authority_holder_id, "authority_kind": case.authority_kind,
        "kind": case.kind, "defendant_holder_id": case.defendant_holder_id,
        "incident_date": case.incident_date.isoformat(), "region": case.region,
        "place": case.place, "incident": case.incident,
        "obligation": format_quantity(PRODUCT, case.obligation) if case.obligation else None,
        "accounting": case.accounting, "agreement": case.agreement, "hold_id": case.hold_id,
        "payment_reference": case.payment_reference, "retirement_id": case.retirement_id,
        "certificate_number": case.certificate_number, "voucher_number": case.voucher_number,
        "pending_report": case.pending_report,
    }
    if public:
        view.pop("payment_reference")
    return view


def get_case(session: Session, case_id: int, *, lock: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.scalar(query)
    if case is None:
        raise UnknownCase(f"案件 {case_id} 不存在", f"case {case_id} does not exist")
    return case


def _require_role(principal: Principal, roles: tuple[str, ...]) -> None:
    if principal.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if principal.role not in roles:
        raise Forbidden(f"角色 {principal.role} 无权执行此操作",
                        f"role {principal.role} may not do this")


def _visible_case(session: Session, principal: Principal, case_id: int) -> Case:
    """The case, if `principal` may see it: operators and verifiers see every case, an
    authority only its own, anyone else none."""
    _require_role(principal, CASE_READERS)
    case = get_case(session, case_id)
    if principal.role not in SEES_EVERY_CASE and case.authority_holder_id != principal.holder_id:
        raise Forbidden(f"无权查看案件 {case_id}", f"you may not see case {case_id}")
    return case


def visible_cases(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The cases `principal` may see, oldest first."""
    _require_role(principal, CASE_READERS)
    query = select(Case).order_by(Case.id)
    if principal.role not in SEES_EVERY_CASE:
        query = query.where(Case.authority_holder_id == principal.holder_id)
    return [case_view(case) for case in session.scalars(query)]


def case_for(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """One case as `principal` may see it (Forbidden if not theirs)."""
    return case_view(_visible_case(session, principal, case_id))


def case_report_pdf(session: Session, principal: Principal, case_id: int) -> bytes:
    """The emission accounting report (PDF) of a case `principal` may see."""
    return render_case_report(session, _visible_case(session, principal, case_id))


def _incident(incident: Mapping[str, Any]) -> dict[str, Any]:
    """The incident as stored: empty fields dropped, an area always with its unit (an area
    without one is refused, never stored for someone to read as mu or ha later)."""
    stored = {key: value for key, value in incident.items() if value not in (None, "")}
    if "area" in stored:
        stored.update(parse_area(stored["area"], stored.get("unit")).as_dict())
    return stored


def _advance(case: Case, step: str) -> None:
    """Move the case to `step`, refusing anything but the next step in order."""
    if case.status == "closed":
        raise InvalidTransition(f"案件 {case.number} 已结案，不能再{step}",
                                f"case {case.number} is closed; it cannot be {step}")
    if NEXT_STEP.get(case.status) != step:
        needed = CASE_STEPS[CASE_STEPS.index(step) - 1]
        raise InvalidTransition(
            f"案件 {case.number} 处于“{case.status}”，“{step}”须在“{needed}”之后",
            f"case {case.number} is {case.status}; {step} needs the case to be {needed}",
        )
    case.status = step
    case.updated_at = utcnow()


def _case_write(session: Session, kind: str, case_id: int, actor: str, request: dict[str, Any],
                step: Any, idempotency_key: str | None = None) -> dict[str, Any]:
    def action(ctx: WriteContext) -> dict[str, Any]:
        case = get_case(ctx.session, case_id, lock=True)
        step(ctx, case)
        ctx.session.flush()
        return case_view(case)

    return run_write(session, kind=f"case.{kind}", actor=actor,
                     request={"case_id": case_id, **request}, action=action,
                     idempotency_key=idempotency_key)


def open_case(
    session: Session,
    *,
    number: str,
    authority_holder_id: int,
    authority_kind: str,
    kind: str,
    defendant_holder_id: int,
    incident_date: date,
    region: str,
    place: str,
    incident: dict[str, Any],
    actor: str,
    accounted: tuple[int, dict[str, Any]] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Opened; with `accounted` (the obligation in base units and its accounting), opened
    and accounted in one write, so that a refusal of either leaves nothing behind."""
    number = require_text("案号 case number", number, limit=100)
    incident = _incident(incident)
    choice("机关类型 authority kind", authority_kind, AUTHORITY_KINDS)
    choice("案件类型 case kind", kind, CASE_KINDS)
    region = validate_region(region)
    place = require_text("地点 place", place, limit=500)
    if incident_date > date.today():
        raise InvalidInput(f"事发日期 {incident_date} 在未来", f"incident date {incident_date} "
                           "is in the future")
    if accounted is not None and accounted[0] <= 0:
        raise InvalidInput("核算义务量须大于零", "the obligation must be above zero")
    request = {"number": number, "authority_holder_id": authority_holder_id,
               "authority_kind": authority_kind, "kind": kind,
               "defendant_holder_id": defendant_holder_id,
               "incident_date": incident_date.isoformat(), "region": region, "place": place,
               "incident": incident}
    if accounted is not None:
        request.update(obligation=accounted[0], accounting=accounted[1])

    def action(ctx: WriteContext) -> dict[str, Any]:
        if get_holder(ctx.session, authority_holder_id).kind != "org":
            raise InvalidInput("办案机关须为机构持有人", "the authority must be an organisation")
        get_holder(ctx.session, defendant_holder_id)
        if ctx.session.scalar(select(Case.id).where(Case.number == number)):
            raise Conflict(f"案号 {number} 已存在", f"case number {number} exists already")
        case = Case(number=number, authority_holder_id=authority_holder_id,
                    authority_kind=authority_kind, kind=kind,
                    defendant_holder_id=defendant_holder_id, incident_date=incident_date,
                    region=region, place=place, incident=incident, status="opened")
        if accounted is not None:
            case.status, (case.obligation, case.accounting) = "accounted", accounted
        ctx.session.add(case)
        ctx.session.flush()
        return case_view(case)

    return run_write(session, kind="case.open", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def record_accounting(
    session: Session,
    *,
    case_id: int,
    obligation: int,
    accounting: dict[str, Any],
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Accounted: the obligation (base units of 0.01 tCO2e, already rounded up) and the
    accounting behind it — Qinglu's method result, or an external report approved by a
    verifier."""
    if obligation <= 0:
        raise InvalidInput("核算义务量须大于零", "the obligation must be above zero")

    def step(_ctx: WriteContext, case: Case) -> None:
        _advance(case, "accounted")
        case.obligation = obligation
        case.accounting = accounting

    return _case_write(session, "account", case_id, actor,
                       {"obligation": obligation, "accounting": accounting}, step,
                       idempotency_key)


def _opening_authority(principal: Principal, requested: int | None) -> int:
    """The authority a new case is opened for: an authority opens in its own name only,
    an operator names the authority."""
    _require_role(principal, CASE_OPENERS)
    if principal.role == "authority":
        if requested not in (None, principal.holder_id) or principal.holder_id is None:
            raise Forbidden("只能以本机关名义立案", "an authority opens cases in its own name only")
        return principal.holder_id
    if requested is None:
        raise Forbidden("须指明办案机关", "name the authority (authority_holder_id)")
    return requested


def open_case_for(session: Session, principal: Principal, *, authority_holder_id: int | None,
                  idempotency_key: str | None = None, **case: Any) -> dict[str, Any]:
    """`open_case` as a signed-in user: the authority follows from who asks."""
    authority = _opening_authority(principal, authority_holder_id)
    return open_case(session, authority_holder_id=authority, actor=principal.actor,
                     idempotency_key=idempotency_key, **case)


def _fire_on_incident_date(evidence: Mapping[str, Any], incident_date: date) -> FireResult:
    """The one place a case's fire is computed: on the incident date, so its parameters
    are those valid when it burned, whoever asks and whenever."""
    return estimate(fire_input(evidence, on=incident_date))


def _method_accounting(result: FireResult, actor: str) -> dict[str, Any]:
    return {"source": "qinglu", "method": f"{result.method} {result.version}",
            "prepared_by": actor, "result": result.to_json_dict()}


def account_with_fire_method(session: Session, principal: Principal, *, case_id: int,
                             evidence: Mapping[str, Any],
                             idempotency_key: str | None = None) -> dict[str, Any]:
    """Accounted by Qinglu's own fire method on the case's incident date, by an operator
    or the case's own authority. `evidence` is what is known of the fire (vegetation, area
    with its unit or a polygon, fuel...; see methods.fire.fire_input); the result, inputs
    and every parameter with its source are kept on the case and on the ledger record."""
    _require_role(principal, CASE_OPENERS)
    case = _visible_case(session, principal, case_id)
    result = _fire_on_incident_date(evidence, case.incident_date)
    return record_accounting(session, case_id=case_id, obligation=result.obligation_units,
                             accounting=_method_accounting(result, principal.actor),
                             actor=principal.actor, idempotency_key=idempotency_key)


def open_fire_case(session: Session, principal: Principal, *, authority_holder_id: int | None,
                   incident_date: date, evidence: Mapping[str, Any],
                   idempotency_key: str | None = None, **case: Any) -> dict[str, Any]:
    """Open a fire case and account it with Qinglu's method, in one write (the case
    desk's form): the area is checked with its unit first (refused in the figure and
    unit given), then the fire is computed, and a refusal of anything, the case number
    taken or the fire's figures, leaves no case behind. The incident stored is the
    evidence's area, unit and vegetation."""
    authority = _opening_authority(principal, authority_holder_id)
    incident = _incident({key: evidence.get(key) for key in ("area", "unit", "vegetation")})
    result = _fire_on_incident_date(evidence, incident_date)
    return open_case(session, authority_holder_id=authority, incident_date=incident_date,
                     incident=incident, actor=principal.actor,
                     accounted=(result.obligation_units,
                                _method_accounting(result, principal.actor)),
                     idempotency_key=idempotency_key, **case)


def external_report_accounting(
    *, firm: str, report_ref: str, stated_obligation: str, approved_by: str,
    comparison: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """An accounting report prepared outside Qinglu, approved by a verifier.

    The obligation is the report's stated figure; Qinglu's own computation, if given,
    is kept beside it for comparison and never replaces it.
    """
    figure = _stated_figure(stated_obligation)
    units = int((figure * 100).to_integral_value(rounding="ROUND_CEILING"))
    return units, {
        "source": "external", "firm": require_text("核算机构 firm", firm),
        "report_ref": require_text("报告编号 report reference", report_ref),
        "stated_obligation_t": f"{figure:.2f}", "approved_by": approved_by,
        "qinglu_comparison": comparison,
    }


def _stated_figure(text: str) -> Decimal:
    """A report's stated tCO2e as typed (a decimal comma, full-width digits), above zero."""
    figure = Decimal(typed_number(text, "报告核定排放量", "the report's stated figure"))
    if figure <= 0:
        raise InvalidInput(f"报告核定排放量须大于零：{text}",
                           f"the report's stated figure must be above zero: {text}")
    return figure


# Until the agreement, an approved external report may still replace the accounting.
REPORTABLE = ("opened", "accounted")


def record_external_report(session: Session, principal: Principal, *, case_id: int,
                           firm: str, report_ref: str, stated_obligation: str,
                           idempotency_key: str | None = None) -> dict[str, Any]:
    """An accounting report prepared outside Qinglu, recorded by the case's authority (or
    the operator) for a verifier to approve; until approved it changes no figure."""
    _require_role(principal, CASE_OPENERS)
    _visible_case(session, principal, case_id)
    figure = _stated_figure(stated_obligation)
    pending = {"firm": require_text("核算机构 firm", firm),
               "report_ref": require_text("报告编号 report reference", report_ref),
               "stated_obligation_t": f"{figure:.2f}", "recorded_by": principal.actor}

    def step(_ctx: WriteContext, case: Case) -> None:
        if case.status not in REPORTABLE:
            raise InvalidTransition(
                f"案件 {case.number} 处于“{case.status}”，约定购买后不能再提交核算报告",
                f"case {case.number} is {case.status}; a report can be recorded only "
                "before the agreement")
        case.pending_report = pending

    return _case_write(session, "report", case_id, principal.actor, pending, step,
                       idempotency_key)


def approve_external_report(session: Session, principal: Principal, *, case_id: int,
                            idempotency_key: str | None = None) -> dict[str, Any]:
    """A verifier approves the report the authority recorded: its stated figure becomes
    the obligation; Qinglu's own accounting, if the case had one, is kept beside it for
    comparison and no longer decides."""
    _require_role(principal, ("verifier",))

    def step(_ctx: WriteContext, case: Case) -> None:
        pending = case.pending_report
        if not pending:
            raise InvalidTransition(f"案件 {case.number} 没有待审核的核算报告",
                                    f"case {case.number} has no report awaiting approval")
        if case.status == "opened":
            _advance(case, "accounted")
        elif case.status != "accounted":
            raise InvalidTransition(
                f"案件 {case.number} 处于“{case.status}”，不能再审核核算报告",
                f"case {case.number} is {case.status}; its report can no longer be approved")
        previous = case.accounting if (case.accounting or {}).get("source") == "qinglu" else None
        units, accounting = external_report_accounting(
            firm=pending["firm"], report_ref=pending["report_ref"],
            stated_obligation=pending["stated_obligation_t"], approved_by=principal.actor,
            comparison=previous and {"obligation": format_quantity(PRODUCT, case.obligation or 0),
                                     "method": previous.get("method")})
        case.obligation = units
        case.accounting = {**accounting, "recorded_by": pending.get("recorded_by")}
        case.pending_report = None
        case.updated_at = utcnow()

    return _case_write(session, "approve", case_id, principal.actor, {}, step,
                       idempotency_key)


def agree(
    session: Session,
    *,
    case_id: int,
    quantity: int,
    seller_account_id: int,
    price: str,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Agreed: the defendant buys `quantity` (≥ the obligation) from the seller's account at
    `price` CNY per tCO2e; the units go into escrow at once."""
    unit_price = parse_price(price)

    def step(ctx: WriteContext, case: Case) -> None:
        if case.status == "accounted" and quantity < (case.obligation or 0):
            raise InvalidInput(
                f"约定数量 {format_quantity(PRODUCT, quantity)} t 低于核算义务 "
                f"{format_quantity(PRODUCT, case.obligation or 0)} t",
                f"agreed quantity {format_quantity(PRODUCT, quantity)} t is below the "
                f"obligation {format_quantity(PRODUCT, case.obligation or 0)} t",
            )
        _advance(case, "agreed")
        get_account(ctx.session, seller_account_id)
        held = hold_in(ctx, from_account=seller_account_id, product=PRODUCT, quantity=quantity,
                       purpose=f"案件 case {case.number}")
        amount = money_amount(unit_price, quantity, PRODUCT)
        case.hold_id = held["id"]
        case.agreement = {"quantity": format_quantity(PRODUCT, quantity),
                          "quantity_units": quantity, "seller_account_id": seller_account_id,
                          "price_cny_per_t": price_text(unit_price), "amount_cny": str(amount),
                          "serials": held["serials"]}

    return _case_write(session, "agree", case_id, actor,
                       {"quantity": quantity, "seller_account_id": seller_account_id,
                        "price": price}, step, idempotency_key)


def agreement_preview(session: Session, principal: Principal, *, case_id: int, quantity: int,
                      seller_account_id: int, price: str) -> dict[str, Any]:
    """What `agree` would do, said before it is done (the desk's confirmation): the
    seller, the quantity escrowed, the price and the amount. Refuses what `agree` would
    refuse for the figures (a quantity below the obligation, a bad price, no account);
    writes nothing."""
    case = _visible_case(session, principal, case_id)
    unit_price = parse_price(price)
    if quantity < (case.obligation or 0):
        raise InvalidInput(
            f"约定数量 {format_quantity(PRODUCT, quantity)} t 低于核算义务 "
            f"{format_quantity(PRODUCT, case.obligation or 0)} t",
            f"agreed quantity {format_quantity(PRODUCT, quantity)} t is below the "
            f"obligation {format_quantity(PRODUCT, case.obligation or 0)} t")
    account = get_account(session, seller_account_id)
    return {"quantity": format_quantity(PRODUCT, quantity), "seller_account_id": account.id,
            "seller": _party(session, account.holder_id)["name"],
            "price_cny_per_t": price_text(unit_price),
            "amount_cny": str(money_amount(unit_price, quantity, PRODUCT))}


def pay(session: Session, *, case_id: int, reference: str, actor: str,
        idempotency_key: str | None = None) -> dict[str, Any]:
    """Paid: the payment reference (bank or payment-gateway) is recorded once."""
    reference = require_text("付款凭证号 payment reference", reference)

    def step(_ctx: WriteContext, case: Case) -> None:
        if case.payment_reference:
            raise InvalidTransition(f"案件 {case.number} 已付款（{case.payment_reference}）",
                                    f"case {case.number} is paid already "
                                    f"({case.payment_reference})")
        _advance(case, "paid")
        case.payment_reference = reference

    return _case_write(session, "pay", case_id, actor, {"reference": reference}, step,
                       idempotency_key)


def case_purpose(session: Session, case: Case) -> str:
    name = get_holder(session, case.authority_holder_id).name.split(" ")[0]
    return (f"{name}（{case.number}）生态环境损害替代性修复 / alternative restoration of "
            f"ecological damage, case {case.number}")


def retire_for_case(session: Session, *, case_id: int, actor: str,
                    idempotency_key: str | None = None) -> dict[str, Any]:
    """Retired: exactly the escrowed units, from the seller's account, for the defendant."""

    def step(ctx: WriteContext, case: Case) -> None:
        _advance(case, "retired")
        agreement = case.agreement or {}
        defendant = get_holder(ctx.session, case.defendant_holder_id)
        beneficiary = public_name(defendant.kind, defendant.name)
        retired = retire_in(ctx, from_account=int(agreement["seller_account_id"]),
                            product=PRODUCT, quantity=int(agreement["quantity_units"]),
                            beneficiary=beneficiary, purpose=case_purpose(ctx.session, case),
                            case_ref=case.number, hold_id=case.hold_id)
        case.retirement_id = retired["id"]

    return _case_write(session, "retire", case_id, actor, {}, step, idempotency_key)


def certify(session: Session, *, case_id: int, key: RegistryKey, actor: str,
            idempotency_key: str | None = None) -> dict[str, Any]:
    """Certified: the carbon-neutral certificate and the transaction voucher, signed."""

    def step(ctx: WriteContext, case: Case) -> None:
        _advance(case, "certified")
        if case.retirement_id is None:  # pragma: no cover - "retired" always sets it
            raise InvalidTransition("案件没有注销记录", "the case has no retirement")
        agreement = case.agreement or {}
        authority = get_holder(ctx.session, case.authority_holder_id)
        seller = get_holder(ctx.session, get_account(
            ctx.session, int(agreement["seller_account_id"])).holder_id)
        defendant = get_holder(ctx.session, case.defendant_holder_id)
        buyer = public_name(defendant.kind, defendant.name)
        case_text = f"{authority.name} {case.number}"
        certificate = issue_in(ctx, key, kind="carbon_neutral", retirement_id=case.retirement_id,
                               extra={"case": case_text}, case_id=case.id)
        voucher = issue_in(ctx, key, kind="voucher", retirement_id=case.retirement_id,
                           case_id=case.id, extra={
                               "case": case_text, "seller": seller.name, "buyer": buyer,
                               "price_cny_per_t": agreement["price_cny_per_t"],
                               "amount_cny": agreement["amount_cny"],
                               "payment_reference": case.payment_reference or ""})
        case.certificate_number = certificate["number"]
        case.voucher_number = voucher["number"]

    return _case_write(session, "certify", case_id, actor, {}, step, idempotency_key)


def close_case(session: Session, *, case_id: int, actor: str,
               idempotency_key: str | None = None) -> dict[str, Any]:
    def step(_ctx: WriteContext, case: Case) -> None:
        _advance(case, "closed")

    return _case_write(session, "close", case_id, actor, {}, step, idempotency_key)


def close_case_for(session: Session, principal: Principal, *, case_id: int,
                   idempotency_key: str | None = None) -> dict[str, Any]:
    """Closed by the case's own authority (its clerk) or the operator, once certified."""
    _require_role(principal, CASE_OPENERS)
    _visible_case(session, principal, case_id)
    return close_case(session, case_id=case_id, actor=principal.actor,
                      idempotency_key=idempotency_key)


def _concerns(case: Case, kind: str, body: dict[str, Any]) -> bool:
    request, result = body.get("request") or {}, body.get("result") or {}
    if kind == "case.open":
        return bool(result.get("id") == case.id and request.get("number") == case.number)
    return bool(request.get("case_id") == case.id)


def case_timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """Every ledger entry of the case, oldest first: what was done, by whom, when (UTC,
    as recorded), and its entry's number on the ledger."""
    rows = session.execute(
        select(LedgerEntry.sequence, LedgerEntry.kind, LedgerEntry.actor,
               LedgerEntry.recorded_at, LedgerEntry.body)
        .where(LedgerEntry.kind.like("case.%")).order_by(LedgerEntry.sequence))
    steps = []
    for sequence, kind, actor, recorded_at, body in rows:
        parsed = json.loads(body)
        if _concerns(case, kind, parsed):
            accounted = kind == "case.open" and "obligation" in parsed["request"]
            steps.append({"entry": sequence, "step": "case.open_account" if accounted else kind,
                          "actor": actor, "at": recorded_at})
    return steps


def _party(session: Session, holder_id: int) -> dict[str, Any]:
    holder = get_holder(session, holder_id)
    return {"id": holder.id, "name": holder.name, "kind": holder.kind,
            "id_number": holder.id_number if holder.kind == "org"
            else mask_id_number(holder.id_number)}


def case_desk(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """The case whole, for the desk of whoever may see it: the parties by name, the
    agreement (seller, quantity, price, amount, serial ranges), the payment reference,
    the documents, a report awaiting approval, and the timeline from the ledger."""
    case = _visible_case(session, principal, case_id)
    view = case_view(case)
    agreement = case.agreement or {}
    seller = None
    if agreement.get("seller_account_id"):
        account = get_account(session, int(agreement["seller_account_id"]))
        seller = {**_party(session, account.holder_id), "account_id": account.id}
    return {**view, "authority": _party(session, case.authority_holder_id),
            "defendant": _party(session, case.defendant_holder_id), "seller": seller,
            "timeline": case_timeline(session, case)}
