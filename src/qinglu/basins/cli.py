"""`qinglu water class` and `qinglu basin ...`: water class, the pollutant-load charge,
basins and their sections, agreements, monitoring imports, monthly assessment, yearly
settlement, statements (PDF, CSV) and their verification.

The stand-alone calculators read their options in the units the options declare
(concentrations in mg/L, a monthly volume in m³, a rate in 万元/t); a value may carry
another unit of the same kind ("1000万m3", "80 μg/L"), never one of another kind.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from qinglu.basins import actions
from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    console,
    emit,
    emit_rows,
    fail,
    handle_errors,
    refused,
    session_for,
)
from qinglu.core.files import read_json
from qinglu.documents.actions import resolve
from qinglu.documents.signing import load_or_create_key
from qinglu.methods import basin, water

water_app = typer.Typer(help="水质 Water quality: GB 3838-2002 class", no_args_is_help=True)
app = typer.Typer(help="流域横向生态补偿 Horizontal basin compensation: sections, monitoring, "
                  "monthly assessment, yearly settlement", no_args_is_help=True)
CONCENTRATION_HELP = "mg/L（或带单位，如 80μg/L / or with its unit）"
YearOption = Annotated[int, typer.Option("--year", help="年度 year")]
BasinOption = Annotated[str, typer.Option("--basin", help="流域代码 basin code, e.g. chishui")]


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} 不是日期 YYYY-MM-DD / not a date") from None


@water_app.command("class")
@handle_errors
def water_class(
    codmn: Annotated[str, typer.Option("--codmn",
                                       help=f"高锰酸盐指数 CODMn, {CONCENTRATION_HELP}")],
    nh3n: Annotated[str, typer.Option("--nh3n", help=f"氨氮 NH3-N, {CONCENTRATION_HELP}")],
    tp: Annotated[str, typer.Option("--tp", help=f"总磷 TP, {CONCENTRATION_HELP}")],
    tn: Annotated[str | None, typer.Option("--tn", help=f"总氮 TN, {CONCENTRATION_HELP}")] = None,
    lake: Annotated[bool, typer.Option("--lake", help="湖泊、水库 lake or reservoir")] = False,
    on: Annotated[str | None, typer.Option("--date", help="采样日期 sample date")] = None,
    as_json: JsonOption = False,
) -> None:
    """水质类别 Water class by GB 3838-2002 Table 1 (the worst indicator sets it)."""
    result = water.classify(water.water_input(
        {"codmn": codmn, "nh3n": nh3n, "tp": tp, "tn": tn, "lake": lake},
        unit=water.OPTION_UNIT, on=_date(on))).to_json_dict()
    if as_json:
        emit(result, True)
        return
    table = Table(title=f"水质类别 Water class: {result['class']} "
                        f"（{'湖库 lake' if lake else '河流 river'}）")
    for column in ("指标 Indicator", "mg/L", "类别 Class", "I–V 限值 limits"):
        table.add_column(column)
    for name, row in result["indicators"].items():
        table.add_row(water.INDICATOR_NAMES[name], row["value"], row["class"] or "—",
                      " / ".join(row["limits"] or []) or "—")
    console.print(table)
    console.print(f"定类指标 deciding: {', '.join(result['deciding'])}")
    console.print(f"限值来源 limits: {result['limits_source']}")
    for note in result["notes"]:
        console.print(f"注 note: {note}")


@app.command("charge")
@handle_errors
def charge(
    indicator: Annotated[str, typer.Option("--indicator", help="CODMn | NH3-N | TP | TN")],
    measured: Annotated[str, typer.Option("--measured", help=f"实测浓度 {CONCENTRATION_HELP}")],
    target: Annotated[str, typer.Option("--target", help=f"目标浓度 {CONCENTRATION_HELP}")],
    volume: Annotated[str, typer.Option(
        "--volume", help="月断面水量 monthly volume, m3（或 万m3、亿m3 带单位）")],
    rate: Annotated[str, typer.Option(
        "--rate", help="补偿标准 rate, 万元/t（或 元/t 带单位）; Guizhou 2014: "
        "CODMn 0.1, NH3-N 0.7, TP 1")],
    direction: Annotated[str | None, typer.Option(
        "--direction", help="one_way（默认 default: only an excess is paid）| two_way")] = None,
    as_json: JsonOption = False,
) -> None:
    """污染负荷补偿 Pollutant-load charge: (measured − target) × volume × rate."""
    result = basin.load_charge_input(
        {"indicator": indicator, "measured": measured, "target": target, "volume": volume,
         "rate": rate, "direction": direction},
        units=basin.OPTION_UNITS).to_json_dict()
    emit(result if as_json else {k: v for k, v in result.items() if k != "method"}, as_json,
         "污染负荷补偿 Pollutant-load charge")


@app.command("add")
@handle_errors
def add_basin(
    code: Annotated[str, typer.Option("--code", help="流域代码 e.g. chishui")],
    name: Annotated[str, typer.Option("--name", help="流域名称 e.g. 赤水河")],
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """登记流域 Register a basin."""
    with session_for(db) as session:
        emit(actions.add_basin(session, actor(), code=code, name=name, idempotency_key=key),
             as_json, "流域 Basin")


@app.command("party")
@handle_errors
def add_party(
    region: Annotated[str, typer.Option("--region", help="GB/T 2260 代码 e.g. 520500")],
    name: Annotated[str, typer.Option("--name", help="名称 e.g. 毕节市")],
    level: Annotated[str, typer.Option("--level", help="province | prefecture | county")],
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """登记补偿主体 Register a party (province, prefecture or county)."""
    with session_for(db) as session:
        emit(actions.add_party(session, actor(), region=region, name=name, level=level,
                               idempotency_key=key), as_json, "补偿主体 Party")


@app.command("section")
@handle_errors
def add_section(
    basin_code: BasinOption,
    code: Annotated[str, typer.Option("--code", help="断面代码 section code")],
    name: Annotated[str, typer.Option("--name", help="断面名称 section name")],
    kind: Annotated[str, typer.Option("--kind", help="quality | quantity | both")],
    upstream: Annotated[str, typer.Option("--upstream", help="上游主体代码 upstream region")],
    downstream: Annotated[str, typer.Option("--downstream", help="下游主体代码 downstream")],
    waterbody: Annotated[str, typer.Option("--waterbody", help="river | lake")] = "river",
    lon: Annotated[str | None, typer.Option("--lon", help="经度 longitude")] = None,
    lat: Annotated[str | None, typer.Option("--lat", help="纬度 latitude")] = None,
    position: Annotated[int, typer.Option("--position", help="沿河顺序 order along "
                                          "the river")] = 0,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """登记断面 Register a cross-boundary monitoring section."""
    with session_for(db) as session:
        emit(actions.add_section(session, actor(), basin=basin_code, code=code, name=name,
                                 kind=kind, upstream=upstream, downstream=downstream,
                                 waterbody=waterbody, lon=lon, lat=lat, position=position,
                                 idempotency_key=key), as_json, "断面 Section")


@app.command("agreement")
@handle_errors
def add_agreement(
    path: Annotated[Path, typer.Argument(help="协议 JSON: code, name, basin, valid_from, "
                                         "valid_to, source, rules[{kind, section, params}]",
                                         exists=True, dir_okay=False)],
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """登记协议及其规则 Register an agreement and its rules (rules as data)."""
    spec = read_json(path)
    with session_for(db) as session:
        result = actions.add_agreement(session, actor(), spec, idempotency_key=key)
    emit(result if as_json else {k: v for k, v in result.items() if k != "rules"}
         | {"rules": [f"#{r['id']} {r['kind']} {r['section'] or ''}" for r in result["rules"]]},
         as_json, "协议 Agreement")


@app.command("template")
@handle_errors
def template(
    rule_set: Annotated[str, typer.Argument(help="guizhou2014_chishui | chishui2018_fund | "
                                            "xinan2012_p_index")],
    on: Annotated[str | None, typer.Option("--date", help="日期 date (YYYY-MM-DD; 默认今天 "
                                           "default today)")] = None,
    as_json: JsonOption = False,
) -> None:
    """引用的规则参数 The cited figures of a known rule set valid on a date."""
    result = actions.rule_template(rule_set, _date(on))
    if as_json:
        emit(result, True)
        return
    emit_rows([{"name": name, "value": f["value"], "unit": f["unit"], "status": f["status"],
                "source": f["source"]} for name, f in result["figures"].items()], rule_set)


@app.command("import")
@handle_errors
def import_monitoring(
    path: Annotated[Path, typer.Argument(help="CSV 或 Excel：section, month, codmn [mg/L], "
                                         "nh3n, tp, tn, volume [万m3], min_flow [m3/s], flow",
                                         exists=True, dir_okay=False)],
    basin_code: BasinOption,
    correction: Annotated[bool, typer.Option(
        "--correction", help="更正已有月份（生成新版本）/ correct recorded months")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="更正原因 why")] = None,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """导入监测数据 Import monitoring data, all or nothing."""
    with session_for(db) as session, Progress(console=console, transient=True) as progress:
        task = progress.add_task("校验中 checking", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = actions.import_monitoring(
                session, actor(), load_or_create_key(), basin=basin_code, filename=path.name,
                content=path.read_bytes(), correction=correction, reason=reason,
                progress=advance, idempotency_key=key)
        except actions.MonitoringImportRefused as exc:
            progress.stop()
            raise refused(exc.problems) from None
    emit(result, as_json, "监测数据 Monitoring data")


@app.command("assess")
@handle_errors
def assess(
    basin_code: BasinOption, year: YearOption,
    month: Annotated[int | None, typer.Option("--month", help="月份 1-12 (默认全年 the "
                                              "year's months so far)")] = None,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """月度核算 Assess months: one statement per section and month."""
    with session_for(db) as session:
        result = actions.assess(session, actor(), load_or_create_key(), basin=basin_code,
                                year=year, month=month, idempotency_key=key)
    if as_json:
        emit(result, True)
        return
    emit({k: v for k, v in result.items() if k not in ("missing", "periods")},
         False, "月度核算 Monthly assessment")
    if result["missing"]:
        emit_rows(result["missing"], "未核算（缺数据）Not assessed: missing data")


@app.command("settle")
@handle_errors
def settle(
    basin_code: BasinOption, year: YearOption,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """年度清算 Settle a year per pair of parties (two-way payments netted)."""
    with session_for(db) as session:
        result = actions.settle(session, actor(), load_or_create_key(), basin=basin_code,
                                year=year, idempotency_key=key)
        listed = actions.list_statements(session, actor(), basin_code, year)
    if as_json:
        emit({**result, "settlements": listed["settlements"]}, True)
        return
    emit(result, False, "年度清算 Yearly settlement")
    _settlement_table(listed["settlements"])


def _settlement_table(rows: list[dict[str, Any]]) -> None:
    emit_rows([{"编号 number": r["number"], "版本 v": r["version"], "甲 A": r["party_a"],
                "乙 B": r["party_b"], "甲付乙 A→B": r["a_to_b_yuan"],
                "乙付甲 B→A": r["b_to_a_yuan"], "付款方 payer": r["payer"],
                "净额 net (元)": r["net_yuan"]} for r in rows], "清算 Settlements")


@app.command("statements")
@handle_errors
def list_statements(
    basin_code: BasinOption, year: YearOption,
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", help="全部明细写入 CSV / every line of the year to a CSV")] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """核算单 The year's monthly statements and settlements."""
    with session_for(db) as session:
        listed = actions.list_statements(session, actor(), basin_code, year)
        if csv_path is not None:
            csv_path.write_text(actions.year_csv(session, actor(), basin_code, year),
                                encoding="utf-8")
    if as_json:
        emit(listed, True)
        return
    emit_rows([{"编号 number": r["number"], "断面 section": r["section"], "月 month": r["period"],
                "类别 class": r["class"] or "", "付上游 to upstream (元)": r["to_upstream_yuan"]}
               for r in listed["monthly"]], "月度核算单 Monthly statements")
    _settlement_table(listed["settlements"])
    if csv_path is not None:
        console.print(f"已写入 wrote {csv_path}")


@app.command("statement")
@handle_errors
def statement(
    number: Annotated[str, typer.Argument(help="核算单编号 QL-BM-… / QL-BS-…")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="写出 PDF / write the PDF")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="写出明细 CSV")] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """核算单 One statement: its facts, lines and sources; its PDF or CSV."""
    with session_for(db) as session:
        view = actions.statement_view(session, actor(), number)
        if pdf is not None:
            pdf.write_bytes(actions.statement_pdf(session, actor(), number))
        if csv_path is not None:
            csv_path.write_text(actions.statement_csv(session, actor(), number),
                                encoding="utf-8")
    if as_json:
        emit(view, True)
    else:
        emit(view["facts"], False, number)
        emit_rows([{k: v for k, v in line.items() if not k.endswith("_fen")}
                   for line in view["lines"]], "明细 Lines")
    for path in (pdf, csv_path):
        if path is not None:
            console.print(f"已写入 wrote {path}")


@app.command("verify")
@handle_errors
def verify(
    reference: Annotated[str, typer.Argument(help="编号、PDF 文件或二维码网址 / number, PDF "
                                             "or QR URL")],
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """核验核算单 Verify a statement: exit 0 only when it is valid."""
    number, payload = resolve(reference)
    with session_for(db) as session:
        result = actions.verify_statement(session, load_or_create_key(), number=number,
                                          payload=payload)
    if as_json:
        emit(result, True)
    elif result["valid"]:
        later = f"（已被 {result['superseded_by']} 取代 superseded）" if result.get(
            "superseded_by") else ""
        console.print(f"[green]有效 VALID[/green] {result['number']}{later}")
    if not result["valid"]:
        raise fail(f"{result['number']}: " + "; ".join(result["problems"]))


@app.command("overview")
@handle_errors
def overview(year: YearOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """全省总览 The province's overview: basins and each party's net for the year."""
    with session_for(db) as session:
        result = actions.overview(session, actor(), year)
    if as_json:
        emit(result, True)
        return
    emit_rows(result["basins"], f"{year} 流域 Basins")
    emit_rows(result["parties"], f"{year} 各方净额 Net per party (元)")
