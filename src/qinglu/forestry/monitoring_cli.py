"""`qinglu monitoring submit|approve|reject|issue|show|pdf`: the monitoring workflow."""

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
    handle_errors,
    session_for,
)
from qinglu.forestry import monitoring

app = typer.Typer(help="监测与签发 Monitoring reports and carbon-ticket issuance",
                  no_args_is_help=True)


def _summary(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "result"}


def read_measurements(path: Path) -> list[dict[str, Any]]:
    """CSV with columns number, volume_end[, volume_start] (m³ per mu)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = []
        for row in csv.DictReader(handle):
            item: dict[str, Any] = {"number": row.get("number", "").strip(),
                                    "volume_end": row.get("volume_end")}
            if row.get("volume_start"):
                item["volume_start"] = row["volume_start"]
            rows.append(item)
    return rows


@app.command("submit")
@handle_errors
def submit(
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    start: Annotated[str, typer.Option("--start", help="监测期开始 YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--end", help="监测期结束 YYYY-MM-DD")],
    measurements: Annotated[Path, typer.Option(
        "--measurements", exists=True, help="CSV: number,volume_end[,volume_start] (m³/亩)")],
    baseline: Annotated[float, typer.Option("--baseline", help="基线 tCO2e (项目设计文件)")],
    leakage: Annotated[float, typer.Option("--leakage", help="泄漏 tCO2e (项目设计文件)")],
    risk: Annotated[str, typer.Option("--risk", help="风险等级 low|medium|high")],
    deduction: Annotated[float, typer.Option(
        "--deduction", help="不确定性扣减比例 uncertainty deduction (0-0.99)")] = 0.0,
    parameters: Annotated[Path | None, typer.Option(
        "--parameters", exists=True,
        help="参数覆盖文件 override parameter CSV (checked sources)")] = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """提交监测报告 Submit a monitoring report (computes the period's sink)."""
    with session_for(db) as session:
        view = monitoring.submit(
            session, project_id=project, period_start=date.fromisoformat(start),
            period_end=date.fromisoformat(end), measurements=read_measurements(measurements),
            baseline_t=baseline, leakage_t=leakage, uncertainty_deduction=deduction,
            risk_class=risk, actor=actor(), idempotency_key=key,
            override_csv=parameters.read_text(encoding="utf-8") if parameters else None)
    emit(view if as_json else _summary(view), as_json, "监测报告 monitoring report")


@app.command("approve")
@handle_errors
def approve(report: Annotated[int, typer.Argument(help="报告 id")], key: KeyOption = None,
            db: DbOption = None, as_json: JsonOption = False) -> None:
    """核证通过 Approve (verifier)."""
    with session_for(db) as session:
        view = monitoring.approve(session, report_id=report, actor=actor(), idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@app.command("reject")
@handle_errors
def reject(report: Annotated[int, typer.Argument(help="报告 id")],
           reasons: Annotated[str, typer.Option("--reasons", help="驳回理由")],
           key: KeyOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """驳回 Reject with reasons (verifier)."""
    with session_for(db) as session:
        view = monitoring.reject(session, report_id=report, reasons=reasons, actor=actor(),
                                 idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@app.command("issue")
@handle_errors
def issue(report: Annotated[int, typer.Argument(help="报告 id")], key: KeyOption = None,
          db: DbOption = None, as_json: JsonOption = False) -> None:
    """签发碳票 Issue an approved report to the owner, with the buffer share."""
    with session_for(db) as session:
        view = monitoring.issue(session, report_id=report, actor=actor(), idempotency_key=key)
    emit(view if as_json else _summary(view), as_json)


@app.command("pdf")
@handle_errors
def pdf(report: Annotated[int, typer.Argument(help="报告 id")],
        out: Annotated[Path, typer.Option("--out", help="输出 PDF 路径")],
        db: DbOption = None) -> None:
    """监测报告 PDF Write the monitoring report as a PDF."""
    from qinglu.forestry.report import render_monitoring_report

    with session_for(db) as session:
        out.write_bytes(render_monitoring_report(session, monitoring.get_report(session, report)))
    console.print(f"已写入 written {out}")


@app.command("reversal")
@handle_errors
def reversal(
    case: Annotated[int, typer.Argument(help="火灾案件 id")],
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", exists=True, help="过火范围 GeoJSON (lon/lat)")] = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """逆转 Cancel burned parcels' carbon from the buffer; report any shortfall."""
    import json

    from qinglu.forestry import reversals

    with session_for(db) as session:
        if geojson is not None:
            reversals.set_burned_area(session, case_id=case, actor=actor(),
                                      geojson=json.loads(geojson.read_text(encoding="utf-8")))
        result = reversals.reverse(session, case_id=case, actor=actor(), idempotency_key=key)
    emit(result, as_json, "逆转 reversal")
    if result["shortfall"]:
        console.print(f"[red]缓冲不足 buffer short by {result['shortfall'] / 100:.2f} tCO2e; "
                      "项目已标记 project flagged[/red]")
