"""`qinglu export` / `qinglu import`: the public registry in the CADT data model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from qinglu.cli_common import DbOption, JsonOption, actor, emit, handle_errors, session_for
from qinglu.documents.signing import load_or_create_key
from qinglu.exports import actions as exports

Format = Literal["cadt", "csv"]


@handle_errors
def export_command(
    out: Annotated[Path | None, typer.Option("--out", help="输出文件 / file (default: stdout)")]
    = None,
    fmt: Annotated[str, typer.Option("--format", help="cadt (JSON) | csv")] = "cadt",
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="链接的公开地址 / public address in links "
        "(default: QINGLU_BASE_URL)")] = None,
    db: DbOption = None,
) -> None:
    """导出公开登记簿 Export the public registry: CADT JSON or CSV."""
    if fmt not in ("cadt", "csv"):
        raise typer.BadParameter("--format: cadt | csv")
    with session_for(db) as session:
        text = (exports.cadt_json(session, base_url) if fmt == "cadt"
                else exports.units_csv(session, base_url))
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="CADT JSON 文件 / file", exists=True,
                                         dir_okay=False)],
    holder: Annotated[int, typer.Option("--holder", help="持有导入单位的持有人 / holder of "
                                        "the imported units")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """导入 CADT 文件到空登记簿 Import a CADT file into an empty registry."""
    document = exports.read_document(file.read_bytes(), file.name)
    with session_for(db) as session:
        result = exports.cadt_import(session, load_or_create_key(), document,
                                     holder_id=holder, actor=actor())
    emit(result, as_json, "导入 Import")
