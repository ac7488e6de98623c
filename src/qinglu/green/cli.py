"""`qinglu green co2` (the CO2 of green power at a named grid factor), `qinglu gec ...`
(power projects, generation imports, the expiry job, serials) and `qinglu claim ...`
(green-power claims). Defaults, units and rules are the method's (methods/green.py) and
the actions' (green/actions.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    console,
    emit,
    err_console,
    handle_errors,
    refused,
    session_for,
)
from qinglu.documents.signing import load_or_create_key
from qinglu.green import actions
from qinglu.methods import green

green_app = typer.Typer(help="绿色电力 Green electricity", no_args_is_help=True)
gec_app = typer.Typer(help="绿证 Green electricity certificates (GEC)", no_args_is_help=True)
claim_app = typer.Typer(help="绿电消费声明 Green-power claims", no_args_is_help=True)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} 不是日期 YYYY-MM-DD / not a date") from None


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


@gec_app.command("project-add")
@handle_errors
def project_add(
    filing_code: Annotated[str, typer.Option("--code", help="17 位建档立卡编码 / filing code")],
    name: Annotated[str, typer.Option("--name", help="项目名称 / project name")],
    technology: Annotated[str, typer.Option(
        "--technology", help=" | ".join(green.TECHNOLOGIES))],
    commissioned: Annotated[str, typer.Option("--commissioned", help="投产日期 YYYY-MM-DD")],
    region: Annotated[str, typer.Option("--region", help="GB/T 2260 行政区划代码")],
    account: Annotated[int, typer.Option("--account", help="绿证账户 / certificate account")],
    self_consumed: Annotated[bool, typer.Option(
        "--self-consumed", help="自发自用 / self-consumed electricity")] = False,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """建档立卡 File a renewable power project for green certificates."""
    with session_for(db) as session:
        result = actions.register_project(
            session, actor(), name=name, filing_code_text=filing_code, technology=technology,
            commissioned=_day(commissioned), region=region, account_id=account,
            self_consumed=self_consumed, idempotency_key=key)
    emit(result, as_json, "发电项目 Power project")


@gec_app.command("projects")
@handle_errors
def projects(
    after: Annotated[str | None, typer.Option(
        "--after", help="上一页最后一项的编号 / the id of the previous page's last project "
                        "(absent: from the start)")] = None,
    limit: Annotated[str | None, typer.Option(
        "--limit", help=f"每页条数 / projects per page (default "
                        f"{actions.PROJECTS_PAGE_SIZE})")] = None,
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """发电项目 Power projects filed for green certificates, a page at a time (in id
    order); when there are more, the command for the next page is printed on stderr."""
    with session_for(db) as session:
        found = actions.projects_page(session, after, limit)
    emit(found["projects"], as_json, "发电项目 Power projects")
    if found["next"] is not None:
        err_console.print(
            f"还有更多 / more: qinglu gec projects --after {found['next']} "
            f"--limit {found['limit']}", highlight=False, soft_wrap=True)


@gec_app.command("import")
@handle_errors
def import_generation(
    path: Annotated[Path, typer.Argument(help="CSV 或 Excel：filing_code, month (YYYY-MM), kwh",
                                         exists=True, dir_okay=False)],
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """导入发电量并核发绿证 Import generation and issue the month's certificates, all or
    nothing."""
    with session_for(db) as session, Progress(console=console, transient=True) as progress:
        task = progress.add_task("校验中 checking", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = actions.import_generation(session, actor(), filename=path.name,
                                               content=path.read_bytes(), progress=advance,
                                               idempotency_key=key)
        except actions.GenerationImportRefused as exc:
            progress.stop()
            raise refused(exc.problems) from None
    if not as_json:
        result = {k: v for k, v in result.items() if k != "months"}
    emit(result, as_json, "绿证核发 GEC issuance")


@gec_app.command("expire")
@handle_errors
def expire(
    today: Annotated[str, typer.Option("--today", help="核销日 YYYY-MM-DD（调度器传入）")],
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """过期核销 Cancel every certificate whose validity ended before the day."""
    with session_for(db) as session:
        result = actions.expire(session, actor(), today=_day(today), idempotency_key=key)
    emit(result, as_json, "过期核销 Expired certificates")


@claim_app.command("add")
@handle_errors
def claim_add(
    account: Annotated[int, typer.Option("--account", help="绿证账户 / certificate account")],
    consumer: Annotated[str, typer.Option("--consumer", help="消费者 / company or event")],
    start: Annotated[str, typer.Option("--from", help="期间开始 YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="期间结束 YYYY-MM-DD")],
    kwh: Annotated[int, typer.Option("--kwh", help="用电量 kWh / consumption")],
    certificates: Annotated[int | None, typer.Option(
        "--certificates", help="核销绿证数 / certificates (default: enough for the kWh)")] = None,
    factor: Annotated[str | None, typer.Option("--factor", help=" | ".join(green.FACTORS))] = None,
    region: Annotated[str | None, typer.Option("--region", help=" | ".join(green.REGIONS))] = None,
    factor_year: Annotated[int | None, typer.Option(
        "--factor-year", help="因子年份 / factor year (default: latest published)")] = None,
    reported: Annotated[str | None, typer.Option(
        "--reported-t", help="他处报道的吨数 / a figure reported elsewhere, t")] = None,
    reported_source: Annotated[str | None, typer.Option(
        "--reported-source", help="报道来源 / where it was reported")] = None,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """声明绿电消费 Claim green power: certificates retired for a consumer and period."""
    with session_for(db) as session:
        result = actions.claim(
            session, load_or_create_key(), actor(), account_id=account, consumer=consumer,
            period_start=_day(start), period_end=_day(end), consumption_kwh=kwh,
            certificates=certificates, factor=factor, region=region, factor_year=factor_year,
            reported_co2_t=reported, reported_source=reported_source, idempotency_key=key)
    emit(result, as_json, "绿电消费声明 Green-power claim")


@claim_app.command("list")
@handle_errors
def claim_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """绿电消费声明公示 The public register of green-power claims."""
    with session_for(db) as session:
        rows = actions.public_claims(session)
    emit(rows if as_json else [{k: r[k] for k in ("id", "consumer", "period_start",
                                                   "period_end", "consumption_kwh",
                                                   "certificates", "green_share", "co2_t",
                                                   "reported_co2_t", "certificate_number")}
                               for r in rows], as_json, "绿电消费声明 Green-power claims")


@claim_app.command("pdf")
@handle_errors
def claim_pdf(
    claim_id: Annotated[int, typer.Argument(help="声明编号 / claim id")],
    out: Annotated[Path | None, typer.Option("--out", help="PDF 文件 / output file")] = None,
    db: DbOption = None,
) -> None:
    """声明证书 PDF The claim's signed certificate."""
    with session_for(db) as session:
        data = actions.claim_pdf(session, claim_id)
    path = out or Path(f"claim-{claim_id}.pdf")
    path.write_bytes(data)
    console.print(f"已写入 wrote {path}")
