"""`qinglu registry ...`: the operator's commands over the registry services."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    emit,
    emit_rows,
    handle_errors,
    session_for,
)
from qinglu.core.quantities import parse_quantity
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry

app = typer.Typer(help="登记簿 Registry: holders, accounts, projects and units.",
                  no_args_is_help=True)
holder_app = typer.Typer(help="持有人 Holders", no_args_is_help=True)
account_app = typer.Typer(help="账户 Accounts", no_args_is_help=True)
project_app = typer.Typer(help="项目 Projects", no_args_is_help=True)
app.add_typer(holder_app, name="holder")
app.add_typer(account_app, name="account")
app.add_typer(project_app, name="project")

Product = Annotated[str, typer.Option("--product", help="FCS (tCO2e) | GEC (MWh)")]
Quantity = Annotated[str, typer.Option("--quantity", help="数量，产品单位的十进制数 / decimal")]
FromAccount = Annotated[int, typer.Option("--from", help="转出账户 / source account id")]


@holder_app.command("add")
@handle_errors
def holder_add(
    kind: Annotated[str, typer.Option("--kind", help="org | person")],
    name: Annotated[str, typer.Option("--name", help="名称或姓名 / name")],
    id_number: Annotated[str, typer.Option("--id-number", help="统一社会信用代码或身份证号")],
    region: Annotated[str, typer.Option("--region", help="GB/T 2260 行政区划代码")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """登记持有人 Register a holder (organisation or person)."""
    with session_for(db) as session:
        result = registry.add_holder(session, kind=kind, name=name, id_number=id_number,
                                    region=region, actor=actor(), idempotency_key=key)
    emit(result, as_json, "持有人 Holder")


@holder_app.command("list")
@handle_errors
def holder_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出持有人 List holders."""
    with session_for(db) as session:
        rows = registry.list_holders(session)
    emit(rows, as_json, "持有人 Holders")


@account_app.command("open")
@handle_errors
def account_open(
    holder: Annotated[int, typer.Option("--holder", help="持有人 id / holder id")],
    kind: Annotated[str, typer.Option("--kind", help="holding | escrow | buffer")] = "holding",
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """开立账户 Open an account for a holder."""
    with session_for(db) as session:
        result = registry.open_account(session, holder_id=holder, kind=kind, actor=actor(),
                                      idempotency_key=key)
    emit(result, as_json, "账户 Account")


@project_app.command("add")
@handle_errors
def project_add(
    name: Annotated[str, typer.Option("--name")],
    product: Product,
    region: Annotated[str, typer.Option("--region", help="GB/T 2260 行政区划代码")],
    methodology: Annotated[str, typer.Option("--methodology", help="方法学编号 / methodology id")],
    owner: Annotated[int | None, typer.Option("--owner", help="业主持有人 id / owner")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """登记项目 Register a project."""
    with session_for(db) as session:
        result = registry.add_project(session, name=name, product=product, region=region,
                                     methodology=methodology, owner_holder_id=owner,
                                     actor=actor(), idempotency_key=key)
    emit(result, as_json, "项目 Project")


@app.command("issue")
@handle_errors
def issue_cmd(
    project: Annotated[int, typer.Option("--project", help="项目 id")],
    vintage: Annotated[int, typer.Option("--vintage", help="年份 / vintage year")],
    quantity: Quantity,
    to: Annotated[int, typer.Option("--to", help="接收账户 / account id")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """签发 Issue units of a project's vintage into an account."""
    with session_for(db) as session:
        result = registry.issue(session, project_id=project, vintage=vintage,
                                quantity=registry.project_quantity(session, project, quantity),
                                to_account=to, actor=actor(), idempotency_key=key)
    emit(result, as_json, "签发 Issuance")


@app.command("transfer")
@handle_errors
def transfer_cmd(
    from_account: FromAccount,
    to: Annotated[int, typer.Option("--to", help="转入账户 / destination account id")],
    product: Product,
    quantity: Quantity,
    project: Annotated[int | None, typer.Option("--project", help="仅此项目 / only")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """转让 Transfer units (whole or partial blocks) between accounts."""
    with session_for(db) as session:
        result = registry.transfer(session, from_account=from_account, to_account=to,
                                product=product, quantity=parse_quantity(product, quantity),
                                project_id=project, actor=actor(), idempotency_key=key)
    emit(result, as_json, "转让 Transfer")


@app.command("retire")
@handle_errors
def retire_cmd(
    from_account: FromAccount,
    product: Product,
    quantity: Quantity,
    beneficiary: Annotated[str, typer.Option("--beneficiary", help="受益人 / beneficiary")],
    purpose: Annotated[str, typer.Option("--purpose", help="用途 / purpose")],
    case: Annotated[str | None, typer.Option("--case", help="案件编号 / case reference")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="证书 PDF 文件夹 / folder")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """注销 Retire units for a beneficiary and purpose (terminal); the retirement
    certificate is issued in the same write and its PDF written."""
    with session_for(db) as session:
        result = documents.retire(session, load_or_create_key(), from_account=from_account,
                                  product=product, quantity=parse_quantity(product, quantity),
                                  beneficiary=beneficiary, purpose=purpose, case_ref=case,
                                  actor=actor(), idempotency_key=key)
        path = documents.write_certificate_pdf(session, result["certificate_number"], out)
    emit({**result, "pdf": str(path)}, as_json, "注销 Retirement")


@app.command("cancel")
@handle_errors
def cancel_cmd(
    from_account: FromAccount,
    product: Product,
    quantity: Quantity,
    reason: Annotated[str, typer.Option("--reason", help="原因 / reason")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """核销 Cancel units (e.g. a reversal from the buffer)."""
    with session_for(db) as session:
        result = registry.cancel(session, from_account=from_account, product=product,
                              quantity=parse_quantity(product, quantity), reason=reason,
                              actor=actor(), idempotency_key=key)
    emit(result, as_json, "核销 Cancellation")


@app.command("hold")
@handle_errors
def hold_cmd(
    from_account: FromAccount,
    product: Product,
    quantity: Quantity,
    purpose: Annotated[str, typer.Option("--purpose", help="用途 / purpose")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """托管 Move units into escrow for a named purpose."""
    with session_for(db) as session:
        result = registry.hold(session, from_account=from_account, product=product,
                            quantity=parse_quantity(product, quantity), purpose=purpose,
                            actor=actor(), idempotency_key=key)
    emit(result, as_json, "托管 Hold")


@app.command("settle")
@handle_errors
def settle_cmd(
    hold_id: Annotated[int, typer.Argument(help="托管 id / hold id")],
    to: Annotated[int, typer.Option("--to", help="交付账户 / destination account id")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """交割 Settle a hold: deliver the escrowed units to an account."""
    with session_for(db) as session:
        result = registry.settle(session, hold_id=hold_id, to_account=to, actor=actor(),
                              idempotency_key=key)
    emit(result, as_json, "交割 Settlement")


@app.command("release")
@handle_errors
def release_cmd(
    hold_id: Annotated[int, typer.Argument(help="托管 id / hold id")],
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """解除托管 Release a hold: escrowed units go back to the holder."""
    with session_for(db) as session:
        result = registry.release(session, hold_id=hold_id, actor=actor(), idempotency_key=key)
    emit(result, as_json, "解除托管 Release")


@app.command("balance")
@handle_errors
def balance_cmd(
    account: Annotated[int, typer.Argument(help="账户 id / account id")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """余额 Balance of an account by product: held and in escrow."""
    with session_for(db) as session:
        result = registry.balance(session, account)
    if as_json:
        emit(result, True)
    else:
        emit_rows([{"product": p, **states} for p, states in result.items()],
                  f"账户 {account} 余额 Balance")


@app.command("serial")
@handle_errors
def serial_cmd(
    serial: Annotated[str, typer.Argument(help="序列号 / serial number or range")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """查询序列号 Who holds a serial (or range), and in what state."""
    with session_for(db) as session:
        rows = registry.find_serial(session, serial)
    if as_json:
        emit(rows, True)
    else:
        emit_rows([{k: r[k] for k in ("serial", "account_id", "state", "quantity")} for r in rows],
                  "序列号 Serial")


@app.command("entries")
@handle_errors
def entries_cmd(
    limit: Annotated[int, typer.Option("--limit", min=1, help="最近几条 / how many")] = 20,
    kind: Annotated[str | None, typer.Option("--kind", help="只看此类 / only this kind")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """账本记录 List the latest ledger entries."""
    with session_for(db) as session:
        rows = registry.latest_entries(session, limit, kind)
    if as_json:
        emit(rows, True)
    else:
        emit_rows([{k: r[k] for k in ("sequence", "recorded_at", "actor", "kind")} | {
            "hash": str(r["hash"])[:16]} for r in rows], "账本 Ledger")


product_app = typer.Typer(help="产品 Products (rows an operator adds, no code change)",
                          no_args_is_help=True)


@product_app.command("add")
@handle_errors
def product_add(
    code: Annotated[str, typer.Option("--code", help="产品代码，2-8 位 / product code")],
    name_zh: Annotated[str, typer.Option("--name-zh", help="中文名称")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name")],
    unit: Annotated[str, typer.Option("--unit", help="单位 / unit (tCO2e, MW, MWh·yr ...)")],
    decimals: Annotated[int, typer.Option(
        "--decimals", help="最小单位为 10^-decimals 单位 / base unit = 10^-decimals")],
    scope: Annotated[str, typer.Option(
        "--scope", help="county | prefecture | province | nation")] = "nation",
    not_tradable: Annotated[bool, typer.Option(
        "--not-tradable", help="只可注销，不可转让 / retired only, never traded")] = False,
    validity_months: Annotated[int | None, typer.Option(
        "--validity-months", help="自签发起有效月数 / months valid from issuance")] = None,
    method: Annotated[list[str] | None, typer.Option(
        "--method", help="可签发的方法学（可重复）/ a methodology that may issue it")] = None,
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """新增产品 Add a product (operator)."""
    with session_for(db) as session:
        result = registry.add_product(
            session, code=code, name_zh=name_zh, name_en=name_en, unit=unit,
            decimals=decimals, scope=scope, tradable=not not_tradable,
            validity_months=validity_months, methods=method, actor=actor(),
            idempotency_key=key)
    emit(result, as_json, "产品 Product")


@product_app.command("list")
@handle_errors
def product_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """产品 Products and their rules."""
    with session_for(db) as session:
        emit(registry.list_products(session), as_json, "产品 Products")


@product_app.command("upgrade")
@handle_errors
def product_upgrade(
    from_account: FromAccount,
    quantity: Quantity,
    from_product: Annotated[str, typer.Option("--from-product")] = "GZCT",
    to_product: Annotated[str, typer.Option("--to-product")] = "GZCTP",
    db: DbOption = None, as_json: JsonOption = False, key: KeyOption = None,
) -> None:
    """升级碳票 Convert prefecture tickets into provincial ones (one ledger write)."""
    with session_for(db) as session:
        result = registry.upgrade_tickets(
            session, from_account=from_account, from_product=from_product,
            to_product=to_product, quantity=parse_quantity(from_product, quantity),
            actor=actor(), idempotency_key=key)
    emit(result, as_json, "碳票升级 Ticket upgrade")


log_app = typer.Typer(help="公开日志 Public log of the ledger (RFC 6962 tree, signed checkpoints)",
                      no_args_is_help=True)


@log_app.command("checkpoint")
@handle_errors
def log_checkpoint(db: DbOption = None, as_json: JsonOption = False) -> None:
    """当前检查点 Print the current signed checkpoint (a C2SP tlog-checkpoint note): save
    it, and `qinglu audit verify --checkpoint FILE` later tells a rewrite or a restore."""
    with session_for(db) as session:
        made = registry.log_checkpoint(session, load_or_create_key())
    if as_json:
        emit(made, True)
        return
    typer.echo(made["note"], nl=False)


@log_app.command("proof")
@handle_errors
def log_proof(
    entry: Annotated[int, typer.Argument(help="记录序号 / entry sequence", min=1)],
    size: Annotated[int, typer.Option("--size", min=1, help="树的大小 / tree size")],
    db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """包含证明 An entry's RFC 6962 inclusion proof in the tree of --size entries."""
    with session_for(db) as session:
        emit(registry.log_inclusion_proof(session, entry, size), as_json, "包含证明 Inclusion")
