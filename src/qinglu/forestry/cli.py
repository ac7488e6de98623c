"""`qinglu parcel|monitoring|tree ...`: forest parcels, the monitoring workflow and single
trees from the command line. Each command reads its files, calls one forestry action
and prints the result."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    console,
    emit,
    emit_rows,
    handle_errors,
    refused,
    session_for,
)
from qinglu.core.errors import reading
from qinglu.core.files import read_json
from qinglu.core.spreadsheets import table_file_text
from qinglu.forestry import actions as forestry

app = typer.Typer(help="小班 Forest parcels", no_args_is_help=True)
monitoring_app = typer.Typer(help="监测与签发 Monitoring reports and carbon-ticket issuance",
                             no_args_is_help=True)
tree_app = typer.Typer(help="单株碳汇 Single-tree carbon sinks", no_args_is_help=True)
ReportId = Annotated[int, typer.Argument(help="报告 id")]
ParametersOption = Annotated[Path | None, typer.Option(
    "--parameters", exists=True, dir_okay=False,
    help="参数覆盖文件 override parameter CSV (checked sources)")]
TREE_MEASURES = ("dbh_cm", "height_m", "dbh_increment_cm", "height_increment_m")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r} 不是日期 YYYY-MM-DD / not a date") from None


# --- parcels -------------------------------------------------------------------------

@app.command("import")
@handle_errors
def import_parcels(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="GeoJSON 或 Shapefile (.shp)")],
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    attributes: Annotated[Path | None, typer.Option(
        "--attributes", exists=True, dir_okay=False,
        help="属性表 CSV/Excel，按小班号关联 / joined by number")] = None,
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="跳过有问题的小班 / import the good rows, report the rest")] = False,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", help="Shapefile 属性编码 (default: .cpg or GBK)")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """导入小班 Import parcels: each bad feature is named; nothing is written on refusal."""
    with session_for(db) as session:
        try:
            result = forestry.import_parcels_file(
                session, project_id=project, path=file, attributes=attributes,
                skip_bad=skip_bad, encoding=encoding, actor=actor())
        except forestry.ImportRefused as exc:
            raise refused(exc.problems) from None
    if as_json:
        emit(result, True)
    else:
        emit_rows(result["imported"], f"已导入 imported {len(result['imported'])}")
        for skipped in result["skipped"]:
            console.print(f"[yellow]跳过 skipped[/yellow] {skipped['row']}: "
                          f"{skipped['reason']}", highlight=False)


# --- monitoring ----------------------------------------------------------------------

def _summary(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "result"}


def read_volumes(path: Path) -> list[dict[str, Any]]:
    """CSV with columns number, volume_end[, volume_start] (m³ per mu)."""
    with reading(path.name), path.open(encoding="utf-8-sig", newline="") as handle:
        rows = []
        for row in csv.DictReader(handle):
            item: dict[str, Any] = {"number": row.get("number", "").strip(),
                                    "volume_end": row.get("volume_end")}
            if row.get("volume_start"):
                item["volume_start"] = row["volume_start"]
            rows.append(item)
    return rows


@monitoring_app.command("submit")
@handle_errors
def submit(
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    start: Annotated[str, typer.Option("--start", help="监测期开始 YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--end", help="监测期结束 YYYY-MM-DD")],
    measurements: Annotated[Path, typer.Option(
        "--measurements", exists=True, dir_okay=False,
        help="CSV: number,volume_end[,volume_start] (m³/亩)")],
    baseline: Annotated[float, typer.Option("--baseline", help="基线 tCO2e (项目设计文件)")],
    leakage: Annotated[float, typer.Option("--leakage", help="泄漏 tCO2e (项目设计文件)")],
    risk: Annotated[str, typer.Option("--risk", help="风险等级 low|medium|high")],
    deduction: Annotated[float, typer.Option(
        "--deduction", help="不确定性扣减比例 uncertainty deduction (0-0.99)")] = 0.0,
    parameters: ParametersOption = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """提交监测报告 Submit a monitoring report (computes the period's sink)."""
    with session_for(db) as session:
        view = forestry.submit_report(
            session, project_id=project, period_start=_date(start, "--start"),
            period_end=_date(end, "--end"), measurements=read_volumes(measurements),
            baseline_t=baseline, leakage_t=leakage, uncertainty_deduction=deduction,
            risk_class=risk, actor=actor(), idempotency_key=key,
            override_csv=table_file_text(parameters) if parameters else None)
    emit(view if as_json else _summary(view), as_json, "监测报告 monitoring report")


@monitoring_app.command("approve")
@handle_errors
def approve(report: ReportId, key: KeyOption = None, db: DbOption = None,
            as_json: JsonOption = False) -> None:
    """核证通过 Approve (verifier)."""
    with session_for(db) as session:
        view = forestry.approve_report(session, report_id=report, actor=actor(),
                                       idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@monitoring_app.command("reject")
@handle_errors
def reject(report: ReportId, reasons: Annotated[str, typer.Option("--reasons", help="驳回理由")],
           key: KeyOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """驳回 Reject with reasons (verifier)."""
    with session_for(db) as session:
        view = forestry.reject_report(session, report_id=report, reasons=reasons,
                                      actor=actor(), idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@monitoring_app.command("issue")
@handle_errors
def issue_tickets(report: ReportId, key: KeyOption = None, db: DbOption = None,
                  as_json: JsonOption = False) -> None:
    """签发碳票 Issue an approved report to the owner, with the buffer share."""
    with session_for(db) as session:
        view = forestry.issue_report(session, report_id=report, actor=actor(),
                                     idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@monitoring_app.command("pdf")
@handle_errors
def pdf(report: ReportId, out: Annotated[Path, typer.Option("--out", help="输出 PDF 路径")],
        db: DbOption = None) -> None:
    """监测报告 PDF Write the monitoring report as a PDF."""
    with session_for(db) as session:
        out.write_bytes(forestry.monitoring_report_pdf(session, report))
    console.print(f"已写入 written {out}")


@monitoring_app.command("reversal")
@handle_errors
def reversal(
    case: Annotated[int, typer.Argument(help="火灾案件 id")],
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", exists=True, dir_okay=False,
        help="过火范围 GeoJSON：面、Feature 或 FeatureCollection（经纬度）/ burned area: a "
             "polygon, feature or feature collection (lon/lat)")] = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """逆转 Cancel burned parcels' carbon from the buffer; report any shortfall."""
    polygon = read_json(geojson) if geojson else None
    with session_for(db) as session:
        result = forestry.record_reversal(session, case_id=case, burned_polygon=polygon,
                                          actor=actor(), idempotency_key=key)
    emit(result, as_json, "逆转 reversal")
    if result["shortfall"]:
        console.print(f"[red]缓冲不足 buffer short by {result['shortfall'] / 100:.2f} tCO2e; "
                      "项目已标记 project flagged[/red]")


# --- single trees --------------------------------------------------------------------

def read_tree_measurements(path: Path) -> list[dict[str, Any]]:
    """CSV: number and either dbh_cm,height_m (re-measured) or dbh_increment_cm,
    height_increment_m (stated annual increment)."""
    with reading(path.name), path.open(encoding="utf-8-sig", newline="") as handle:
        return [{"number": (row.get("number") or "").strip(),
                 **{k: row[k] for k in TREE_MEASURES if (row.get(k) or "").strip()}}
                for row in csv.DictReader(handle)]


@tree_app.command("import")
@handle_errors
def import_trees(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="CSV (UTF-8/GBK) 或 Excel")],
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """登记单株 Register trees: each bad row is named; nothing is written on refusal."""
    with session_for(db) as session:
        try:
            result = forestry.import_trees_file(session, project_id=project, path=file,
                                                actor=actor())
        except forestry.ImportRefused as exc:
            raise refused(exc.problems) from None
    if as_json:
        emit(result, True)
    else:
        emit_rows(result["trees"], f"已登记 registered {len(result['trees'])}")


@tree_app.command("sink")
@handle_errors
def sink(
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    year: Annotated[int, typer.Option("--year", help="年度 the tree-year")],
    measurements: Annotated[Path, typer.Option(
        "--measurements", exists=True, dir_okay=False,
        help="CSV: number,dbh_cm,height_m 或 number,dbh_increment_cm,height_increment_m")],
    issue: Annotated[bool, typer.Option(
        "--issue", help="签发 issue to the households (default: compute only)")] = False,
    risk: Annotated[str, typer.Option("--risk", help="风险等级 low|medium|high")] = "medium",
    parameters: ParametersOption = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """单株年碳汇 Each tree's sink for the year; with --issue, issue it (one tree-year each)."""
    rows = read_tree_measurements(measurements)
    override = table_file_text(parameters) if parameters else None
    with session_for(db) as session:
        try:
            if issue:
                result = forestry.issue_tree_year(
                    session, project_id=project, year=year, measurements=rows,
                    risk_class=risk, actor=actor(), override_csv=override,
                    idempotency_key=key)
            else:
                result = forestry.compute_tree_sinks(session, project_id=project, year=year,
                                                     measurements=rows, override_csv=override)
        except forestry.ImportRefused as exc:
            raise refused(exc.problems) from None
    if as_json:
        emit(result, True)
    else:
        emit_rows(result["tree_years"] if issue else result["trees"],
                  f"{year} 单株碳汇 tree-years")


@tree_app.command("list")
@handle_errors
def list_trees(project: Annotated[int, typer.Option("--project", help="项目 id")],
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出项目的单株 A project's registered trees."""
    with session_for(db) as session:
        rows = forestry.trees_of(session, project)
    emit(rows, True) if as_json else emit_rows(rows, f"单株 trees: {len(rows)}")
