"""`qinglu parcel import`: register a project's forest parcels from a survey file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    actor,
    console,
    emit,
    emit_rows,
    handle_errors,
    refused,
    session_for,
)
from qinglu.forestry import parcels

app = typer.Typer(help="小班 Forest parcels", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_parcels(
    file: Annotated[Path, typer.Argument(exists=True, help="GeoJSON 或 Shapefile (.shp)")],
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    attributes: Annotated[Path | None, typer.Option(
        "--attributes", exists=True,
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
            report = parcels.import_file(session, project_id=project, path=file,
                                         attributes=attributes, skip_bad=skip_bad,
                                         encoding=encoding, actor=actor())
        except parcels.ParcelImportError as exc:
            raise refused(exc.problems) from None
    result = {"imported": report.imported,
              "skipped": [{"row": row, "reason": reason} for row, reason in report.skipped]}
    if as_json:
        emit(result, True)
    else:
        emit_rows(report.imported, f"已导入 imported {len(report.imported)}")
        for row, reason in report.skipped:
            console.print(f"[yellow]跳过 skipped[/yellow] {row}: {reason}", highlight=False)
