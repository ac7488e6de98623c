"""`qinglu green co2` (the CO2 of green power at a named grid factor) and `qinglu gec ...`
(green certificates). Defaults, units and rules are the method's (methods/green.py) and
the actions' (green/actions.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from qinglu.cli_common import JsonOption, emit, handle_errors
from qinglu.methods import green

green_app = typer.Typer(help="绿色电力 Green electricity", no_args_is_help=True)
gec_app = typer.Typer(help="绿证 Green electricity certificates (GEC)", no_args_is_help=True)


@green_app.command("co2")
@handle_errors
def co2(
    kwh: Annotated[int, typer.Option("--kwh", help="电量 kWh / electricity, kWh")],
    year: Annotated[int, typer.Option("--year", help="电量所属年份 / the electricity's year")],
    factor: Annotated[str | None, typer.Option(
        "--factor", help=f"{' | '.join(green.FACTORS)} (default {green.DEFAULT_FACTOR})")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help=f"{' | '.join(green.REGIONS)} (default {green.DEFAULT_REGION})")] = None,
    as_json: JsonOption = False,
) -> None:
    """绿电对应的二氧化碳 CO2 of green electricity at one named MEE/NBS grid factor."""
    result = green.co2_of(kwh, year, factor, region)
    emit(result.to_json_dict(), as_json, "绿电减排 CO2 of green power")


@gec_app.command("serial")
@handle_errors
def serial(
    text: Annotated[str, typer.Argument(
        help="32 位国家绿证编号 / the national 32-character serial")],
    as_json: JsonOption = False,
) -> None:
    """解析绿证编号 Split a national GEC serial into project code and electricity code."""
    emit(green.parse_serial(text).to_json_dict(), as_json, "绿证编号 GEC serial")
