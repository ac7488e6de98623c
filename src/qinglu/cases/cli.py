"""`qinglu case ...`: open a damage case and walk it through its steps. The command line
acts as the exchange's operator; the actions decide units, dates and what it may see."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from qinglu.cases import actions
from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    emit,
    emit_rows,
    handle_errors,
    session_for,
)
from qinglu.core.files import read_json
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.methods import fire

app = typer.Typer(help="案件 Ecological-damage cases", no_args_is_help=True)
CaseId = Annotated[int, typer.Argument(help="案件 id / case id")]
AreaOption = Annotated[str | None, typer.Option(
    "--area", help="过火面积，须同时给出 --unit / burned area, with --unit")]
UnitOption = Annotated[str | None, typer.Option(
    "--unit", help="面积单位（给出 --area 时必填）mu | ha | m2 / required with --area")]


def operator() -> Principal:
    """Whoever runs the command line runs the exchange: an operator, named by QINGLU_ACTOR
    or the login."""
    return Principal(None, actor(), "operator", None)


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(result, True)
        return
    emit({k: result[k] for k in ("id", "number", "status", "obligation", "retirement_id",
                                 "certificate_number", "voucher_number")},
         False, f"案件 Case {result['number']}")


@app.command("open")
@handle_errors
def open_case(
    number: Annotated[str, typer.Option("--number", help="案号 / case number")],
    authority: Annotated[int, typer.Option("--authority", help="办案机关持有人 id")],
    authority_kind: Annotated[str, typer.Option(
        "--authority-kind", help="procuratorate | court | forestry_bureau | environment_bureau")],
    kind: Annotated[str, typer.Option(
        "--kind", help="criminal_public_interest | civil | administrative")],
    defendant: Annotated[int, typer.Option("--defendant", help="被告/当事人持有人 id")],
    incident_date: Annotated[str, typer.Option("--date", help="事发日期 YYYY-MM-DD")],
    region: Annotated[str, typer.Option("--region", help="GB/T 2260 行政区划代码")],
    place: Annotated[str, typer.Option("--place", help="地点 / place")],
    area: AreaOption = None,
    unit: UnitOption = None,
    vegetation: Annotated[str | None, typer.Option("--vegetation")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """立案 Open a damage case."""
    try:
        when = date.fromisoformat(incident_date)
    except ValueError:
        raise typer.BadParameter(f"日期 {incident_date!r} 不是 YYYY-MM-DD") from None
    incident = {"area": area, "unit": unit, "vegetation": vegetation}
    with session_for(db) as session:
        result = actions.open_case(
            session, number=number, authority_holder_id=authority,
            authority_kind=authority_kind, kind=kind, defendant_holder_id=defendant,
            incident_date=when, region=region, place=place, incident=incident,
            actor=actor(), idempotency_key=key)
    _show(result, as_json)


@app.command("account")
@handle_errors
def account(
    case_id: CaseId,
    vegetation: Annotated[str, typer.Option("--vegetation", help="IPCC Table 2.5 category")],
    area: AreaOption = None,
    unit: UnitOption = None,
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", exists=True, dir_okay=False,
        help="过火范围 GeoJSON（经纬度）/ burned area (lon/lat)")] = None,
    fuel_consumed: Annotated[str | None, typer.Option(
        "--fuel-consumed", help="现场测量 t DM/ha")] = None,
    ef_set: Annotated[str | None, typer.Option(
        "--ef-set", help=f"(default {fire.DEFAULT_EF_SET})")] = None,
    gwp: Annotated[str | None, typer.Option(
        "--gwp", help=f"(default {fire.DEFAULT_GWP_SET})")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """核算（青绿方法）Account the case's fire with Qinglu's method (IPCC Eq. 2.27), on the
    case's incident date."""
    polygon = read_json(geojson) if geojson else None
    evidence = {"vegetation": vegetation, "area": area, "unit": unit, "geojson": polygon,
                "fuel_consumed": fuel_consumed, "ef_set": ef_set, "gwp": gwp}
    with session_for(db) as session:
        result = actions.account_with_fire_method(session, operator(), case_id=case_id,
                                                  evidence=evidence, idempotency_key=key)
    _show(result, as_json)


@app.command("external-report")
@handle_errors
def external_report(
    case_id: CaseId,
    firm: Annotated[str, typer.Option("--firm", help="核算机构 / accounting firm")],
    report: Annotated[str, typer.Option("--report", help="报告编号 / report reference")],
    obligation: Annotated[str, typer.Option("--obligation", help="报告核定 tCO2e")],
    verifier: Annotated[str, typer.Option("--verifier", help="审核人 / approved by")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """核算（外部报告）Record an accounting report prepared outside Qinglu, approved."""
    units, accounting = actions.external_report_accounting(
        firm=firm, report_ref=report, stated_obligation=obligation, approved_by=verifier)
    with session_for(db) as session:
        result = actions.record_accounting(session, case_id=case_id, obligation=units,
                                           accounting=accounting, actor=actor())
    _show(result, as_json)


@app.command("agree")
@handle_errors
def agree(
    case_id: CaseId,
    quantity: Annotated[str, typer.Option("--quantity", help="购买量 tCO2e")],
    seller_account: Annotated[int, typer.Option("--seller-account", help="卖方账户 id")],
    price: Annotated[str, typer.Option("--price", help="单价 元/tCO2e / CNY per t")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """协议 Agree the purchase; the seller's units go into escrow."""
    with session_for(db) as session:
        result = actions.agree(session, case_id=case_id,
                               quantity=parse_quantity("FCS", quantity),
                               seller_account_id=seller_account, price=price, actor=actor(),
                               idempotency_key=key)
    _show(result, as_json)


@app.command("pay")
@handle_errors
def pay(
    case_id: CaseId,
    reference: Annotated[str, typer.Option("--reference", help="付款凭证号")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """付款 Record the payment."""
    with session_for(db) as session:
        result = actions.pay(session, case_id=case_id, reference=reference, actor=actor(),
                             idempotency_key=key)
    _show(result, as_json)


@app.command("retire")
@handle_errors
def retire(case_id: CaseId, db: DbOption = None, as_json: JsonOption = False,
           key: KeyOption = None) -> None:
    """注销 Retire exactly the escrowed units for the case."""
    with session_for(db) as session:
        result = actions.retire_for_case(session, case_id=case_id, actor=actor(),
                                         idempotency_key=key)
    _show(result, as_json)


@app.command("certify")
@handle_errors
def certify(case_id: CaseId, db: DbOption = None, as_json: JsonOption = False,
            key: KeyOption = None) -> None:
    """出证 Issue the carbon-neutral certificate and the transaction voucher (PDFs too)."""
    from qinglu.documents import actions as documents
    from qinglu.documents.signing import load_or_create_key

    with session_for(db) as session:
        result = actions.certify(session, case_id=case_id, key=load_or_create_key(),
                                 actor=actor(), idempotency_key=key)
        for number in (result["certificate_number"], result["voucher_number"]):
            result.setdefault("pdfs", []).append(
                str(documents.write_pdf(documents.get_certificate(session, number))))
    _show(result, as_json)


@app.command("report")
@handle_errors
def report(
    case_id: CaseId,
    out: Annotated[Path | None, typer.Option("--out", help="PDF 文件 / file")] = None,
    db: DbOption = None,
) -> None:
    """核算报告 Write the case's emission accounting report (PDF)."""
    from qinglu.documents.actions import documents_dir

    with session_for(db) as session:
        data = actions.case_report_pdf(session, operator(), case_id)
    path = out or documents_dir() / f"case-{case_id}-report.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    typer.echo(str(path))


@app.command("close")
@handle_errors
def close(case_id: CaseId, db: DbOption = None, as_json: JsonOption = False) -> None:
    """结案 Close a certified case."""
    with session_for(db) as session:
        result = actions.close_case(session, case_id=case_id, actor=actor())
    _show(result, as_json)


@app.command("show")
@handle_errors
def show(case_id: CaseId, db: DbOption = None, as_json: JsonOption = False) -> None:
    """查看 Show a case."""
    with session_for(db) as session:
        result = actions.case_for(session, operator(), case_id)
    _show(result, as_json)


@app.command("list")
@handle_errors
def list_cases(db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出案件 List cases."""
    with session_for(db) as session:
        rows = actions.visible_cases(session, operator())
    if as_json:
        emit(rows, True)
    else:
        emit_rows([{k: r[k] for k in ("id", "number", "status", "obligation")} for r in rows],
                  "案件 Cases")
