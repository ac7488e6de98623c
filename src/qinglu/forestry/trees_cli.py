"""`qinglu tree import|sink|list`: single trees (单株碳汇) and their tree-year issuance."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    emit,
    emit_rows,
    handle_errors,
    refused,
    session_for,
)
from qinglu.forestry import trees

app = typer.Typer(help="单株碳汇 Single-tree carbon sinks", no_args_is_help=True)
MEASURE_COLUMNS = ("dbh_cm", "height_m", "dbh_increment_cm", "height_increment_m")


def read_measurements(path: Path) -> list[dict[str, Any]]:
    """CSV: number and either dbh_cm,height_m (re-measured) or dbh_increment_cm,
    height_increment_m (stated annual increment)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{"number": (row.get("number") or "").strip(),
                 **{k: row[k] for k in MEASURE_COLUMNS if (row.get(k) or "").strip()}}
                for row in csv.DictReader(handle)]


@app.command("import")
@handle_errors
def import_trees(
    file: Annotated[Path, typer.Argument(exists=True, help="CSV (UTF-8/GBK) 或 Excel")],
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """登记单株 Register trees: each bad row is named; nothing is written on refusal."""
    with session_for(db) as session:
        try:
            result = trees.import_file(session, project_id=project, path=file, actor=actor())
        except trees.TreeImportError as exc:
            raise refused(exc.problems) from None
    if as_json:
        emit(result, True)
    else:
        emit_rows(result["trees"], f"已登记 registered {len(result['trees'])}")


@app.command("sink")
@handle_errors
def sink(
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    year: Annotated[int, typer.Option("--year", help="年度 the tree-year")],
    measurements: Annotated[Path, typer.Option(
        "--measurements", exists=True,
        help="CSV: number,dbh_cm,height_m 或 number,dbh_increment_cm,height_increment_m")],
    issue: Annotated[bool, typer.Option(
        "--issue", help="签发 issue to the households (default: compute only)")] = False,
    risk: Annotated[str, typer.Option("--risk", help="风险等级 low|medium|high")] = "medium",
    parameters: Annotated[Path | None, typer.Option(
        "--parameters", exists=True,
        help="参数覆盖文件 override parameter CSV (checked sources)")] = None,
    key: KeyOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """单株年碳汇 Each tree's sink for the year; with --issue, issue it (one tree-year each)."""
    rows = read_measurements(measurements)
    override = parameters.read_text(encoding="utf-8") if parameters else None
    with session_for(db) as session:
        try:
            if issue:
                result = trees.issue_year(session, project_id=project, year=year,
                                          measurements=rows, risk_class=risk, actor=actor(),
                                          override_csv=override, idempotency_key=key)
            else:
                result = trees.compute_sinks(session, project_id=project, year=year,
                                             measurements=rows, override_csv=override)
        except trees.TreeImportError as exc:
            raise refused(exc.problems) from None
    if as_json:
        emit(result, True)
    else:
        emit_rows(result["tree_years"] if issue else result["trees"],
                  f"{year} 单株碳汇 tree-years")


@app.command("list")
@handle_errors
def list_trees(project: Annotated[int, typer.Option("--project", help="项目 id")],
               db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出项目的单株 A project's registered trees."""
    with session_for(db) as session:
        rows = [trees.tree_view(t) for t in trees.list_trees(session, project)]
    emit(rows, True) if as_json else emit_rows(rows, f"单株 trees: {len(rows)}")
