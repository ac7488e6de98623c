"""`qinglu`: the command line. Each feature folder owns its command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qinglu.accounts.cli import app as user_app
from qinglu.basins.cli import app as basin_app
from qinglu.basins.cli import water_app
from qinglu.cases.cli import app as case_app
from qinglu.cli_common import DbOption, JsonOption, emit, fail, handle_errors, session_for
from qinglu.documents.cli import app as certificate_app
from qinglu.exports.cli import export_command, import_command
from qinglu.forestry.cli import app as parcel_app
from qinglu.forestry.cli import monitoring_app, tree_app
from qinglu.green.cli import claim_app, gec_app, green_app
from qinglu.market.cli import app as market_app
from qinglu.methods.cli import fire_app
from qinglu.registry.cli import app as registry_app
from qinglu.registry.cli import log_app, product_app

app = typer.Typer(
    help="青绿 Qinglu — 生态产品交易登记、核算、案件与市场 / ecological product exchange.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="数据库 Database", no_args_is_help=True)
audit_app = typer.Typer(help="审计 Audit", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(case_app, name="case")
app.add_typer(fire_app, name="fire")
app.add_typer(certificate_app, name="certificate")
app.add_typer(parcel_app, name="parcel")
app.add_typer(market_app, name="market")
app.add_typer(monitoring_app, name="monitoring")
app.add_typer(tree_app, name="tree")
app.add_typer(basin_app, name="basin")
app.add_typer(water_app, name="water")
app.add_typer(green_app, name="green")
app.add_typer(gec_app, name="gec")
app.add_typer(claim_app, name="claim")
app.add_typer(product_app, name="product")
app.add_typer(log_app, name="log")
app.command("export")(export_command)
app.command("import")(import_command)


@app.command("backup")
@handle_errors
def backup(
    file: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """备份数据库 Back the database up (SQLite online backup; pg_dump for PostgreSQL)."""
    from qinglu.db.backup import backup as back_up

    emit(back_up(file, db), as_json, "备份 Backup")


@app.command("restore")
@handle_errors
def restore(
    file: Annotated[Path, typer.Argument(help="备份文件 / backup file")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """恢复数据库 Restore a backup over the database (stop the server first)."""
    from qinglu.db.backup import restore as restore_from

    emit(restore_from(file, db), as_json, "恢复 Restore")


@db_app.command("upgrade")
@handle_errors
def db_upgrade(db: DbOption = None) -> None:
    """迁移到最新 Run migrations up to the latest revision."""
    from qinglu.db.engine import make_engine
    from qinglu.db.migrate import upgrade

    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    typer.echo("数据库已是最新 database is up to date")


@audit_app.command("verify")
@handle_errors
def audit_verify(
    db: DbOption = None,
    as_json: JsonOption = False,
    against: Annotated[str | None, typer.Option(
        "--against", help="已公布检查点的副本（文件或网址）/ a copy of the published "
        "checkpoints: file or URL (/api/v1/ledger/checkpoints)")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", exists=True, dir_okay=False,
        help="保存的检查点（`qinglu log checkpoint` 的输出）/ a saved checkpoint note: the "
        "ledger must contain its tree")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="全量校验 / check everything, not only what came after the head "
                       "the last audit verified")] = False,
) -> None:
    """校验账本 Check the hash chain and the unit blocks (what came after the head the last
    audit verified; --full: replay every movement from the first entry), and the ledger
    against every signed checkpoint published.

    Exits non-zero and names the first bad entry when a row was edited behind the
    application's back, and says so when the database is behind or inconsistent with a
    published checkpoint (restored from an older copy, history rewritten). With
    --checkpoint FILE the tree of that checkpoint is recomputed from the entries.
    """
    from qinglu.registry import actions as registry

    if against and "://" not in against and not Path(against).is_file():
        raise fail(f"--against {against}: 不是文件或网址 / neither a file nor a URL")
    extra = registry.read_checkpoints(against) if against else None
    with session_for(db) as session:
        report = registry.audit_ledger(session, full=full)
        logged = registry.audit_checkpoints(session, extra)
        kept = (registry.audit_checkpoint_file(session, checkpoint.read_bytes())
                if checkpoint else {"problems": []})
    problems = [*report["problems"], *logged["problems"], *kept["problems"]]
    if problems:
        if as_json:
            emit({"valid": False, "first_bad_entry": report["first_bad_entry"],
                  "problems": problems, "latest_checkpoint": logged["latest_checkpoint"],
                  "entries": report["entries"]}, True)
        where = f" #{report['first_bad_entry']}" if report["first_bad_entry"] else ""
        raise fail(f"账本校验失败 ledger audit failed{where}: {problems[0]}")
    emit({"valid": True, "entries": report["entries"], "head": report["head"],
          "checked_from": report["since"], "entries_checked": report["checked"],
          "checkpoints_checked": logged["checkpoints_checked"],
          "latest_checkpoint": logged["latest_checkpoint"]}, as_json,
         "账本完好 Ledger intact")


@audit_app.command("checkpoint")
@handle_errors
def audit_checkpoint(db: DbOption = None, as_json: JsonOption = False) -> None:
    """签检查点 Sign the ledger head now and publish it (database and published file)."""
    from qinglu.registry import actions as registry

    with session_for(db) as session:
        made = registry.make_checkpoint(session)
    emit(made, as_json, "检查点 Checkpoint")


@app.command("demo")
@handle_errors
def demo(db: DbOption = None, as_json: JsonOption = False) -> None:
    """载入演示数据 Load the demo data set (loading twice changes nothing); a short summary,
    `--json` for every id, number and PDF."""
    from qinglu.demo import load_demo, summary

    with session_for(db) as session:
        made = load_demo(session)
    if as_json:
        emit(made, True)
        return
    for line in summary(made):
        typer.echo(line)


@app.command("serve")
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="先载入演示数据 / load demo data")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, envvar="QINGLU_WORKERS",
        help="工作进程数 / worker processes (one per CPU core is a good start)")] = 1,
) -> None:
    """启动网站与 API Serve the web UI and the HTTP API."""
    import os

    import uvicorn

    from qinglu.documents.signing import load_or_create_key
    from qinglu.web.app import serving_app, web_secret

    with session_for(db):
        pass  # migrates a database that is behind
    if demo:
        from qinglu.demo import load_demo

        with session_for(db) as session:
            load_demo(session)
    from qinglu.core.logs import CONFIGURE_ENV, configure_logging

    # JSON lines (QINGLU_LOG_FORMAT=text for a console); one access line a request, with
    # its id and route, from qinglu.access instead of uvicorn's.
    configure_logging()
    os.environ[CONFIGURE_ENV] = "1"  # and in each worker process
    if workers == 1:
        uvicorn.run(serving_app(db), host=host, port=port, log_config=None, access_log=False)
        return
    # Made here, once, so that worker processes only ever read the key and the secret.
    load_or_create_key()
    web_secret()
    if db:
        os.environ["QINGLU_DATABASE_URL"] = db
    uvicorn.run("qinglu.web.app:serving_app", factory=True, host=host, port=port,
                workers=workers, log_config=None, access_log=False,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)


# uvicorn's supervisor kills a worker that does not answer its ping within this time. A
# worker is spawned, so it first imports the `qinglu` command (seconds on a busy
# machine) before it can answer: with uvicorn's default of 5 s, a loaded server killed
# its workers over and over, dropping their connections. A worker that is truly hung is
# still replaced, a minute later.
WORKER_HEALTHCHECK_SECONDS = 60


def main() -> None:  # pragma: no cover
    app()
