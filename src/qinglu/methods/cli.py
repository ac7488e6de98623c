"""`qinglu fire estimate`: one fire as a table or JSON, or many from a CSV. Options left
out are left to the method (methods/fire.py), which owns defaults and units."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from qinglu.cli_common import JsonOption, console, emit, handle_errors
from qinglu.core.errors import reading
from qinglu.core.files import read_json
from qinglu.core.spreadsheets import table_file_text
from qinglu.methods import fire

fire_app = typer.Typer(help="火灾排放核算 Wildfire emissions (IPCC 2006 Vol.4 Eq. 2.27)",
                       no_args_is_help=True)
CHUNK = 100_000


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} 不是日期 YYYY-MM-DD / not a date") from None


def _show(result: fire.FireResult) -> None:
    table = Table(title=f"火灾排放 Fire emissions · {result.method} v{result.version}")
    table.add_column("项目 Item")
    table.add_column("数值 Value", justify="right")
    table.add_row("面积 Area", f"{result.area_ha:.4f} ha = {result.area_mu:.2f} 亩 mu")
    table.add_row("可燃物消耗 Fuel consumed", f"{result.fuel_consumed_t_per_ha:g} t DM/ha")
    table.add_row("干物质 Dry matter burnt", f"{result.dry_matter_t:.3f} t")
    for gas, tonnes in result.emissions_t.items():
        table.add_row(f"{fire.SPECIES_NAMES.get(gas, gas)} {gas}", f"{tonnes:.4f} t")
    table.add_row(f"CO2 当量 CO2e ({result.gwp_set})", f"{result.co2e_t:.4f} t")
    table.add_row("[bold]核算义务 Obligation (rounded up)[/bold]",
                  f"[bold]{result.obligation_t} tCO2e[/bold]")
    console.print(table)
    if result.defaults_used:
        console.print(f"[yellow]使用了默认值 defaults used: {', '.join(result.defaults_used)}"
                      "[/yellow]")
    for note in result.notes:
        console.print(f"注 note: {note}")


@fire_app.command("estimate")
@handle_errors
def estimate(
    vegetation: Annotated[str | None, typer.Option(
        "--vegetation", help="IPCC Table 2.5: " + ", ".join(fire.CATEGORIES))] = None,
    area: Annotated[str | None, typer.Option(
        "--area", help="过火面积，须同时给出 --unit / burned area, with --unit")] = None,
    unit: Annotated[str | None, typer.Option(
        "--unit", help="面积单位（给出 --area 时必填）mu | ha | m2 / required with --area")] = None,
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", help="火场多边形 GeoJSON / burned-area polygon", exists=True,
        dir_okay=False)] = None,
    fuel_consumed: Annotated[float | None, typer.Option(
        "--fuel-consumed", help="现场测量可燃物消耗量 t DM/ha (MB x Cf)")] = None,
    fuel_load: Annotated[float | None, typer.Option("--fuel-load", help="MB, t DM/ha")] = None,
    combustion_factor: Annotated[float | None, typer.Option(
        "--combustion-factor", help="Cf, 0-1")] = None,
    ef_set: Annotated[str | None, typer.Option(
        "--ef-set", help=f"{' | '.join(fire.EF_SETS)} (default {fire.DEFAULT_EF_SET})")] = None,
    gwp: Annotated[str | None, typer.Option(
        "--gwp", help=f"{' | '.join(fire.GWP_SETS)} (default {fire.DEFAULT_GWP_SET})")] = None,
    co_treatment: Annotated[str | None, typer.Option(
        "--co-treatment",
        help=f"{' | '.join(fire.CO_TREATMENTS)} (default {fire.DEFAULT_CO_TREATMENT})")] = None,
    on: Annotated[str | None, typer.Option(
        "--date", help="火灾日期，参数按此日取值 YYYY-MM-DD / the fire's date")] = None,
    input_csv: Annotated[Path | None, typer.Option(
        "--input", help="批量：CSV (id,area,unit,vegetation[,fuel_consumed])；每行须有单位 "
        "/ every row needs its unit", exists=True, dir_okay=False)] = None,
    output_csv: Annotated[Path | None, typer.Option("--output", help="批量结果 CSV")] = None,
    as_json: JsonOption = False,
) -> None:
    """核算火灾排放 Estimate the emissions of one fire, or of many from a CSV."""
    options = {"ef_set": ef_set, "gwp": gwp, "co_treatment": co_treatment}
    if input_csv is not None:
        _batch(input_csv, output_csv or input_csv.with_suffix(".results.csv"), on=_date(on),
               **{name: value for name, value in options.items() if value is not None})
        return
    polygon = read_json(geojson) if geojson else None
    result = fire.estimate(fire.fire_input(
        {"vegetation": vegetation, "area": area, "unit": unit, "geojson": polygon,
         "fuel_consumed": fuel_consumed, "fuel_load": fuel_load,
         "combustion_factor": combustion_factor, **options}, on=_date(on)))
    if as_json:
        emit(result.to_json_dict(), True)
    else:
        _show(result)


def read_fires(path: Path) -> dict[str, Any]:
    """A fires CSV as the method's arrays; the method checks each row (its unit too)."""
    text = table_file_text(path)
    with reading(path.name):  # the csv reader's own errors, row by row
        return fire.batch_rows(csv.DictReader(io.StringIO(text, newline="")), source=path.name)


def _batch(path: Path, out_path: Path, **options: Any) -> None:
    fires = read_fires(path)
    total = len(fires["id"])
    results: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("核算中 computing", total=total)
        for start in range(0, total, CHUNK):
            part = slice(start, start + CHUNK)
            results.append(fire.estimate_batch(
                fires["area_ha"][part], fires["vegetation"][part], fires["fuel_consumed"][part],
                **options))
            progress.advance(task, min(CHUNK, total - start))
    write_results(out_path, fires["id"], results)
    console.print(f"已写入 wrote {total} 条结果 results: {out_path}")


def write_results(path: Path, ids: list[str], chunks: list[dict[str, Any]]) -> None:
    if not chunks:
        path.write_text("id\n", encoding="utf-8")
        return
    columns = [c for c in chunks[0] if c not in ("obligation_units",)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *columns, "obligation_t"])
        row = 0
        for chunk in chunks:
            obligations = chunk["obligation_units"]
            for i in range(len(obligations)):
                writer.writerow([ids[row], *(f"{chunk[c][i]:.6f}" for c in columns),
                                 f"{obligations[i] / 100:.2f}"])
                row += 1
