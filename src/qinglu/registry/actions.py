"""Registry actions: holders, accounts, projects, and every movement of units.

Actions take a session and parsed values, write through `run_write`, and return
JSON-able dicts (the same dict an idempotent repeat returns).

Every movement takes whole blocks from the source in serial order (oldest
issuance first), splits the last block if only part of it is needed, moves the
taken blocks, and merges them with adjacent blocks of the same issuance that
end up in the same place, so a busy account does not fragment without bound.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, event, func, insert, inspect, or_, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, SessionTransaction

from qinglu.core.errors import (
    AccountKindNotAllowed,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidSerial,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    QingluError,
    UnknownAccount,
    UnknownHold,
    UnknownHolder,
    UnknownProject,
    require_text,
)
from qinglu.core.identifiers import (
    contains_identifier,
    mask_id_number,
    mask_person_name,
    validate_region,
    validate_resident_id,
    validate_uscc,
)
from qinglu.core.ledger import WriteContext, ledger_head, run_server_write, run_write
from qinglu.core.models import LedgerEntry, utcnow
from qinglu.core.paging import MAX_ID, Paging, read_paging
from qinglu.core.principal import Actor, Principal
from qinglu.core.quantities import (
    ProductSpec,
    format_quantity,
    parse_quantity,
    product_spec,
    remember_product,
)
from qinglu.core.serials import format_serial, parse_serial
from qinglu.db import raw
from qinglu.db.engine import on_postgres
from qinglu.db.raw import Db, RawQuery
from qinglu.documents.signing import RegistryKey
from qinglu.registry import blocks, checkpoints, project_list, stats
from qinglu.registry.audit import audit
from qinglu.registry.blocks import Place
from qinglu.registry.models import (
    ACCOUNT_KINDS,
    PRODUCT_SCOPES,
    SCOPE_DIGITS,
    Account,
    Cancellation,
    Hold,
    Holder,
    Issuance,
    Product,
    Project,
    Retirement,
    UnitBlock,
)

REGISTRY_HOLDER_NUMBER = "QINGLU-REGISTRY"




def public_name(kind: str, name: str) -> str:
    """A holder's name as the public registry shows it: a person's masked (钟某)."""
    return mask_person_name(name) if kind == "person" else name


def holder_view(holder: Holder, *, public: bool = False) -> dict[str, Any]:
    name, number = holder.name, holder.id_number
    if public:
        number = mask_id_number(number)
        name = public_name(holder.kind, name)
    return {
        "id": holder.id,
        "kind": holder.kind,
        "name": name,
        "id_number": number,
        "region": holder.region,
    }


def add_holder(
    session: Session,
    *,
    kind: str,
    name: str,
    id_number: str,
    region: str,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    if kind == "org":
        number = validate_uscc(id_number)
    elif kind == "person":
        number = validate_resident_id(id_number)
    else:
        raise InvalidInput(
            f"持有人类型 {kind!r} 无效（org 或 person）",
            f"holder kind {kind!r} is not org or person",
        )
    name = require_text("名称 name", name)
    region = validate_region(region)
    request = {"kind": kind, "name": name, "id_number": number, "region": region}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.scalar(select(Holder.id).where(Holder.id_number == number)):
            raise Conflict(
                f"证件号码 {mask_id_number(number)} 已登记",
                f"{mask_id_number(number)} is registered already",
            )
        holder = Holder(kind=kind, name=name, id_number=number, region=region)
        ctx.session.add(holder)
        ctx.session.flush()
        return holder_view(holder)

    return run_write(
        session, kind="holder.add", actor=actor, request=request, action=action,
        idempotency_key=idempotency_key,
    )


def get_holder(session: Session, holder_id: int) -> Holder:
    holder = session.get(Holder, holder_id)
    if holder is None:
        raise UnknownHolder(f"持有人 {holder_id} 不存在", f"holder {holder_id} does not exist")
    return holder


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise unknown_account(account_id)
    return account


def unknown_account(account_id: int | str) -> UnknownAccount:
    return UnknownAccount(f"账户 {account_id} 不存在", f"account {account_id} does not exist")


def holder_by_id_number(session: Session, id_number: str) -> Holder | None:
    """The holder registered under an ID number or credit code, if any."""
    return session.scalar(select(Holder).where(Holder.id_number == id_number.strip()))


def held_units(session: Session, account_id: int, product: str) -> int:
    """Units of a product an account holds free (not in escrow), in base units."""
    total = session.scalar(
        select(func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .where(UnitBlock.account_id == account_id, UnitBlock.state == "held",
               Issuance.product == product))
    return int(total or 0)


def accounts_of(session: Session, holder_id: int, kind: str | None = None) -> list[Account]:
    """A holder's accounts (of one kind, if given), oldest first."""
    query = select(Account).where(Account.holder_id == holder_id)
    if kind is not None:
        query = query.where(Account.kind == kind)
    return list(session.scalars(query.order_by(Account.id)))


def account_view(account: Account) -> dict[str, Any]:
    return {"id": account.id, "holder_id": account.holder_id, "kind": account.kind}


# Who may move units of an account. Writes take their actor either as a Principal (a
# caller signed in to the API or the pages: checked here) or as a plain name (a trusted
# caller: the operator's console, a system job, another action: recorded as given).
MOVER_ROLES = ("operator", "holder")


def account_of(session: Session, principal: Principal, account_id: int) -> Account:
    """The account, if `principal` may move its units: an operator any account, a holder
    only its own. The anonymous public is asked to sign in; other roles are refused."""
    if principal.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if principal.role not in MOVER_ROLES:
        raise Forbidden(f"角色 {principal.role} 无权执行此操作",
                        f"role {principal.role} may not do this")
    account = get_account(session, account_id)
    if principal.role == "holder" and account.holder_id != principal.holder_id:
        raise Forbidden(f"无权操作账户 {account_id}",
                        f"you may not move units of account {account_id}")
    return account


def actor_name(session: Session, actor: Actor, *account_ids: int) -> str:
    """The name a write records as its actor, once a signed-in caller is checked to be
    allowed to move units of each of `account_ids` (see `account_of`)."""
    if isinstance(actor, str):
        return actor
    for account_id in account_ids:
        account_of(session, actor, account_id)
    return actor.actor


def holdings_of(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The signed-in holder's accounts with their balances (none for other callers)."""
    if principal.holder_id is None:
        return []
    return [{"account": account_view(account), "balance": balance(session, account.id)}
            for account in accounts_of(session, principal.holder_id)]


def trading_accounts(session: Session, principal: Principal | None) -> list[int]:
    """The holding accounts a signed-in holder lists from and buys into."""
    if principal is None or principal.role != "holder" or principal.holder_id is None:
        return []
    return [account.id for account in accounts_of(session, principal.holder_id, "holding")]


def list_holders(session: Session) -> list[dict[str, Any]]:
    return [holder_view(holder) for holder in session.scalars(select(Holder).order_by(Holder.id))]


def holders_with_accounts(session: Session) -> list[dict[str, Any]]:
    """Every holder with its accounts, for the operator's back office."""
    by_holder: dict[int, list[dict[str, Any]]] = {}
    for account in session.scalars(select(Account).order_by(Account.id)):
        by_holder.setdefault(account.holder_id, []).append(account_view(account))
    return [{**view, "accounts": by_holder.get(view["id"], [])}
            for view in list_holders(session)]


# Who may look holders up by name or code, to choose one in a form (a defendant, a
# seller's account, a recipient): staff see every holder, a holder organisations only.
HOLDER_SEARCHERS = ("operator", "verifier", "authority", "holder")
HOLDER_SEARCH_LIMIT = 10


def search_holders(session: Session, principal: Principal, text: str,
                   limit: int = HOLDER_SEARCH_LIMIT) -> list[dict[str, Any]]:
    """Holders whose name contains `text`, or whose credit code or identity number starts
    with it (or is it, a holder's number), with their accounts: forms choose holders
    and accounts by what people know of them, never by a typed id. A person's identity
    number is shown masked to everyone; a holder (a company at its account page) finds
    organisations only, so that no one browses private persons."""
    if principal.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if principal.role not in HOLDER_SEARCHERS:
        raise Forbidden(f"角色 {principal.role} 无权查找持有人",
                        f"role {principal.role} may not look holders up")
    wanted = " ".join(str(text).split())[:100]
    if not wanted:
        return []
    matches = [Holder.name.contains(wanted, autoescape=True),
               Holder.id_number.startswith(wanted.upper(), autoescape=True)]
    if wanted.isdigit() and len(wanted) <= 9:
        matches.append(Holder.id == int(wanted))
    query = (select(Holder).where(or_(*matches))
             .where(Holder.id_number != REGISTRY_HOLDER_NUMBER).order_by(Holder.id).limit(limit))
    if principal.role == "holder":
        query = query.where(Holder.kind == "org")
    holders = list(session.scalars(query))
    by_holder: dict[int, list[dict[str, Any]]] = {}
    for account in session.scalars(select(Account).where(
            Account.holder_id.in_([holder.id for holder in holders])).order_by(Account.id)):
        by_holder.setdefault(account.holder_id, []).append(account_view(account))
    return [{**holder_view(holder), "id_number": (mask_id_number(holder.id_number)
                                                   if holder.kind == "person"
                                                   else holder.id_number),
             "accounts": by_holder.get(holder.id, [])} for holder in holders]


def chosen_party(session: Session, principal: Principal, typed: str, picked: str = "", *,
                 account: bool = False) -> int:
    """The holder (or, with `account`, the holding account) a form's picker names: the
    entry chosen from the search list, else what was typed when it names one only (a
    number as shown in the list, an exact name or code, or a part that matches one
    holder). Anything else is refused with what to do, in words for the field."""
    if picked.strip().isdigit():
        return int(picked)
    wanted = " ".join(str(typed).split())
    if wanted.isdigit() and len(wanted) <= 9:
        return int(wanted)
    if not wanted:
        raise InvalidInput("请输入名称或代码，并从列表中选择",
                           "type a name or code and choose from the list")
    found = search_holders(session, principal, wanted)
    exact = [h for h in found if wanted in (h["name"], h["id_number"])]
    found = exact or found
    if not found:
        raise UnknownHolder(f"找不到名称或代码为“{wanted}”的持有人",
                            f"no holder is named or coded “{wanted}”")
    if len(found) > 1:
        raise InvalidInput(f"“{wanted}”对应 {len(found)} 个持有人，请从列表中选择一个",
                           f"“{wanted}” matches {len(found)} holders; choose one from the list")
    if not account:
        return int(found[0]["id"])
    holding = [a["id"] for a in found[0]["accounts"] if a["kind"] == "holding"]
    if len(holding) != 1:
        raise InvalidInput(f"{found[0]['name']} 有 {len(holding)} 个持有账户，请从列表中选择",
                           f"{found[0]['name']} has {len(holding)} holding accounts; "
                           "choose one from the list")
    return int(holding[0])


def party_names(session: Session, *account_ids: int) -> dict[int, str]:
    """The accounts' holders' names as the public may see them (a person's masked)."""
    rows = session.execute(select(Account.id, Holder.kind, Holder.name)
                           .join(Holder, Holder.id == Account.holder_id)
                           .where(Account.id.in_(account_ids)))
    return {account_id: public_name(kind, name) for account_id, kind, name in rows}


def open_account(
    session: Session,
    *,
    holder_id: int,
    kind: str = "holding",
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    if kind not in ACCOUNT_KINDS:
        raise InvalidInput(
            f"账户类型 {kind!r} 无效（可选 {', '.join(ACCOUNT_KINDS)}）",
            f"account kind {kind!r} is not one of {', '.join(ACCOUNT_KINDS)}",
        )
    if kind in ("retirement", "cancellation"):
        raise AccountKindNotAllowed(
            "注销和核销账户由登记簿自动管理",
            "retirement and cancellation accounts are kept by the registry itself",
        )

    def action(ctx: WriteContext) -> dict[str, Any]:
        get_holder(ctx.session, holder_id)
        account = Account(holder_id=holder_id, kind=kind)
        ctx.session.add(account)
        ctx.session.flush()
        return account_view(account)

    return run_write(
        session, kind="account.open", actor=actor,
        request={"holder_id": holder_id, "kind": kind}, action=action,
        idempotency_key=idempotency_key,
    )


def system_account(session: Session, kind: str) -> Account:
    """The registry's own retirement, cancellation or buffer account (made by the migration)."""
    account = session.scalar(
        select(Account)
        .join(Holder, Holder.id == Account.holder_id)
        .where(Holder.id_number == REGISTRY_HOLDER_NUMBER, Account.kind == kind)
    )
    if account is None:
        raise UnknownAccount(f"登记簿的{kind}账户缺失，请运行 qinglu db upgrade",
                             f"the registry's {kind} account is missing: run qinglu db upgrade")
    return account


def project_view(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "product": project.product,
        "region": project.region,
        "methodology": project.methodology,
        "status": project.status,
        "owner_holder_id": project.owner_holder_id,
    }


def add_project(
    session: Session,
    *,
    name: str,
    product: str,
    region: str,
    methodology: str,
    owner_holder_id: int | None = None,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    product_spec(product)
    name = require_text("项目名称 project name", name)
    methodology = require_text("方法学 methodology", methodology, limit=64)
    region = validate_region(region)
    request = {
        "name": name, "product": product, "region": region,
        "methodology": methodology, "owner_holder_id": owner_holder_id,
    }

    def action(ctx: WriteContext) -> dict[str, Any]:
        return add_project_in(ctx, name=name, product=product, region=region,
                              methodology=methodology, owner_holder_id=owner_holder_id)

    return run_write(
        session, kind="project.add", actor=actor, request=request, action=action,
        idempotency_key=idempotency_key,
    )


def add_project_in(ctx: WriteContext, *, name: str, product: str, region: str,
                   methodology: str, owner_holder_id: int | None = None) -> dict[str, Any]:
    """The project itself, inside a caller's ledger write (a power project's filing)."""
    product_spec(product)
    if owner_holder_id is not None:
        get_holder(ctx.session, owner_holder_id)
    project = Project(
        name=require_text("项目名称 project name", name), product=product,
        region=validate_region(region),
        methodology=require_text("方法学 methodology", methodology, limit=64),
        owner_holder_id=owner_holder_id,
    )
    ctx.session.add(project)
    ctx.session.flush()
    return project_view(project)


def get_project(session: Session, project_id: int) -> Project:
    # An id past any column's range (a typed address) is no project, not a driver error.
    project = session.get(Project, project_id) if 0 < project_id <= MAX_ID else None
    if project is None:
        raise UnknownProject(f"项目 {project_id} 不存在", f"project {project_id} does not exist")
    return project


def show_project(session: Session, project_id: int) -> dict[str, Any]:
    return project_view(get_project(session, project_id))


def project_quantity(session: Session, project_id: int, text: str) -> int:
    """A quantity of the project's product, given as a decimal in its unit."""
    return parse_quantity(get_project(session, project_id).product, text)


def project_name(session: Session, project_id: int) -> str:
    project = session.get(Project, project_id)
    return project.name if project else ""


def project_names(session: Session, ids: Collection[int] | None = None) -> dict[int, str]:
    """Project names by id: those of `ids` (one statement, however many), or every
    project's when None."""
    query = select(Project.id, Project.name)
    if ids is not None:
        query = query.where(Project.id.in_(sorted(set(ids))))
    return {project_id: name for project_id, name in session.execute(query)}


def list_projects(session: Session) -> list[dict[str, Any]]:
    """Every project: a read of the whole registry (the public lists read a page at a
    time, `projects_page`)."""
    return [project_view(p) for p in session.scalars(select(Project).order_by(Project.id))]


# Page sizes of the public lists; core.paging bounds what an address may ask for.
PROJECTS_PAGE_SIZE = 50  # the /projects page
PROJECTS_API_SIZE = 100  # GET /api/v1/projects
ISSUANCES_PAGE_SIZE = 50  # a project's own page
LATEST_ISSUANCES = 5  # issuances /projects shows of each project (the rest: its page)


def paging(after: str | None, limit: str | None, default_limit: int) -> Paging:
    """The page of a public list an address asks for (`?after=&limit=`), or a refusal."""
    return read_paging(after, limit, default_limit)


def projects_page(session: Session, page: Paging) -> dict[str, Any]:
    """A page of projects in id order: {"projects": [...], "next": the next page's
    `after`, None on the last page}."""
    found, following = project_list.projects_after(session, page)
    return {"projects": [project_view(p) for p in found], "next": following}


def public_projects_page(session: Session, page: Paging) -> dict[str, Any]:
    """A page of the public list of projects: each with its issuances' count and total
    and its latest few issuances (the rest are on its own page)."""
    found, following = project_list.projects_after(session, page)
    ids = [p.id for p in found]
    issued = project_list.issued_by_project(session, ids)
    latest = project_list.latest_issuances(session, ids, LATEST_ISSUANCES)
    rows = [{"project": project_view(p),
             "issued": project_list.issued_view(p, issued.get(p.id, project_list.Issued())),
             "latest": [project_list.issuance_view(p, i) for i in latest.get(p.id, [])]}
            for p in found]
    return {"projects": rows, "next": following}


def public_project(session: Session, project_id: int, page: Paging) -> dict[str, Any]:
    """A project's public page: the project, its issuances' count and total, and a page
    of its issuances in the order they were made."""
    project = get_project(session, project_id)
    issued = project_list.issued_by_project(session, [project.id])
    found, following = project_list.issuances_after(session, project.id, page)
    return {"project": project_view(project),
            "issued": project_list.issued_view(
                project, issued.get(project.id, project_list.Issued())),
            "issuances": [project_list.issuance_view(project, i) for i in found],
            "next": following}


def public_totals(session: Session) -> dict[str, Any]:
    """Units issued, held, in escrow, retired and cancelled, by product and county."""
    return stats.totals(session)


def compact_totals(session: Session) -> int:
    """Fold the public totals' rows (see registry.stats); the server's minute sweep."""
    return stats.compact_totals(session)


def public_records(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The whole public registry as plain records (projects, issuances, unit blocks,
    retirements, cancellations), for exports other registries read."""
    from qinglu.registry.public_records import collect

    return collect(session)


def public_retirements(session: Session) -> list[dict[str, Any]]:
    """The latest retirements as the public registry shows them."""
    return stats.recent_retirements(session)


def audit_ledger(session: Session, full: bool = True) -> dict[str, Any]:
    """Recompute the hash chain, replay every recorded move against the unit blocks and
    check tiling and conservation; the head is read in the same session. With
    full=False, only what came after the head the last passing audit verified."""
    report = audit(session, full)
    sequence, digest = ledger_head(session)
    return {"valid": report.ok, "entries": sequence, "head": digest,
            "first_bad_entry": report.first_bad_entry, "problems": report.problems,
            "since": report.since, "checked": report.checked}


def audit_checkpoints(session: Session, against: bytes | None = None) -> dict[str, Any]:
    """The ledger held against every signed checkpoint published (the file outside the
    database, the database's own, and a copy a stranger kept): a database restored from
    an older copy is behind one; a rewritten history differs from one."""
    return checkpoints.audit_against_checkpoints(session, against, chain=False)


def read_checkpoints(source: str) -> bytes:
    """Checkpoints a stranger kept, from a file or the published URL."""
    return checkpoints.fetch_checkpoints(source)


def make_checkpoint(session: Session) -> dict[str, Any]:
    """Sign the ledger head now and publish it."""
    return checkpoints.make_checkpoint(session)


def issuing_checkpoint(session: Session) -> dict[str, Any] | None:
    """The checkpoint a document is issued under (made now if the head has moved)."""
    return checkpoints.current_checkpoint(session)


def published_checkpoints(session: Session, key: RegistryKey | None = None,
                          refresh: bool = True) -> dict[str, Any]:
    """Every published checkpoint, oldest first (a fresh one when due)."""
    return checkpoints.published_checkpoints(session, key, refresh)


def log_checkpoint(session: Session, key: RegistryKey | None = None) -> dict[str, Any]:
    """The public log's latest signed checkpoint (a fresh one when the head has moved and
    the latest is over a minute old, or when there is none); refused while empty."""
    return checkpoints.latest_checkpoint(session, key)


def log_inclusion_proof(session: Session, entry: int, size: int) -> dict[str, Any]:
    """RFC 6962 audit path of entry `entry` in the log's tree of `size` entries."""
    return checkpoints.inclusion_proof(session, entry, size)


def log_consistency_proof(session: Session, first: int, second: int) -> dict[str, Any]:
    """RFC 6962 proof that the log's tree of `second` entries extends that of `first`."""
    return checkpoints.consistency_proof(session, first, second)


def log_entries(session: Session, start: int, end: int) -> dict[str, Any]:
    """Entries start..end with their leaf bytes (a bounded page)."""
    return checkpoints.log_entries(session, start, end)


def audit_checkpoint_file(session: Session, data: bytes) -> dict[str, Any]:
    """The ledger holds the tree of a checkpoint someone kept, recomputed from the entries."""
    return checkpoints.audit_checkpoint_file(session, data)


def checkpoint_covering(session: Session, entry: int) -> dict[str, Any] | None:
    """The first checkpoint whose tree holds entry `entry` (read only)."""
    return checkpoints.checkpoint_covering(session, entry)


def check_log_inclusion(session: Session, entry: int, checkpoint: dict[str, Any],
                        key: RegistryKey | None = None) -> list[str]:
    """What is wrong, if anything, with entry `entry` being in `checkpoint`'s tree."""
    return checkpoints.check_inclusion(session, entry, checkpoint, key)


def ledger_head_view(session: Session) -> dict[str, Any]:
    sequence, digest = ledger_head(session)
    return {"sequence": sequence, "hash": digest}


def latest_entries(session: Session, limit: int = 20,
                   kind: str | None = None) -> list[dict[str, Any]]:
    """The latest ledger entries (of one kind, if given), newest first."""
    query = select(LedgerEntry).order_by(LedgerEntry.sequence.desc()).limit(limit)
    if kind:
        query = query.where(LedgerEntry.kind == kind)
    return [{"sequence": e.sequence, "recorded_at": e.recorded_at, "actor": e.actor,
             "kind": e.kind, "hash": e.hash, "body": json.loads(e.body)}
            for e in session.scalars(query)]


SOURCE_KINDS = ("holding", "buffer", "escrow")
DESTINATION_KINDS = ("holding", "buffer", "escrow")
MIN_VINTAGE, MAX_VINTAGE = 1990, 2100


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidInput(f"数量必须为正整数基本单位：{quantity!r}",
                           f"quantity must be a positive whole number of base units: {quantity!r}")


def _lock_accounts(session: Session, *account_ids: int) -> dict[int, Account]:
    """Lock the accounts a write touches, always in id order, so writers never deadlock."""
    wanted = sorted(set(account_ids))
    rows = session.execute(
        select(Account.id, Account.holder_id, Account.kind)
        .where(Account.id.in_(wanted)).order_by(Account.id).with_for_update()
    ).all()
    found = {row[0]: Account(id=row[0], holder_id=row[1], kind=row[2]) for row in rows}
    for account_id in wanted:
        if account_id not in found:
            get_account(session, account_id)  # raises UnknownAccount
    return found


def _check_source(account: Account) -> None:
    if account.kind not in SOURCE_KINDS:
        raise _source_refused(account.kind, account.id)


def _check_destination(account: Account) -> None:
    if account.kind not in DESTINATION_KINDS:
        raise _destination_refused(account.kind, account.id)


def _source_refused(kind: str, account_id: int | str) -> AccountKindNotAllowed:
    return AccountKindNotAllowed(f"{kind} 账户 {account_id} 中的单位不能再移动",
                                 f"units in {kind} account {account_id} cannot move")


def _destination_refused(kind: str, account_id: int | str) -> AccountKindNotAllowed:
    return AccountKindNotAllowed(
        f"不能直接转入 {kind} 账户 {account_id}（请用注销或核销）",
        f"cannot transfer into {kind} account {account_id} (retire or cancel instead)")


def _lock_source(session: Session, account_id: int, *others: int) -> dict[int, Account]:
    accounts = _lock_accounts(session, account_id, *others)
    _check_source(accounts[account_id])
    return accounts


def issue(
    session: Session,
    *,
    project_id: int,
    vintage: int,
    quantity: int,
    to_account: int,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Issue a fresh contiguous serial range: one row however large the quantity."""
    _check_quantity(quantity)
    if not MIN_VINTAGE <= vintage <= MAX_VINTAGE:
        raise InvalidInput(f"年份 {vintage} 超出范围", f"vintage {vintage} is out of range")
    request = {"project_id": project_id, "vintage": vintage, "quantity": quantity,
               "to_account": to_account}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return issue_in(ctx, project_id=project_id, vintage=vintage, quantity=quantity,
                        to_account=to_account)

    return run_write(session, kind="issue", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def issue_in(ctx: WriteContext, *, project_id: int, vintage: int, quantity: int,
             to_account: int, tradable: bool = True,
             valid_to: date | None = None) -> dict[str, Any]:
    """The issuance itself, inside a caller's ledger write (a monitoring report's issuance
    puts the owner's and the buffer's parts on one entry). `tradable` and `valid_to` are
    the product's rules for these units (a green certificate's, from green/actions.py)."""
    _check_quantity(quantity)
    project = get_project(ctx.session, project_id)
    _check_destination(_lock_accounts(ctx.session, to_account)[to_account])
    product = ctx.session.scalar(
        select(Product).where(Product.code == project.product).with_for_update()
    )
    assert product is not None  # products are seeded by the migration
    _check_method(product, project.methodology)
    start = product.next_serial
    end = start + quantity - 1
    product.next_serial = end + 1
    tradable = tradable and product.tradable
    if valid_to is None and product.validity_months:
        valid_to = _months_after(blocks.today(), product.validity_months)
    digits = SCOPE_DIGITS[product.scope]
    issuance = Issuance(project_id=project.id, product=project.product, vintage=vintage,
                        quantity=quantity, serial_start=start, serial_end=end,
                        tradable=tradable, valid_to=valid_to,
                        scope_region=project.region[:digits] if digits else None)
    ctx.session.add(issuance)
    ctx.session.flush()
    ctx.session.add(UnitBlock(issuance_id=issuance.id, account_id=to_account,
                              serial_start=start, serial_end=end, state="held"))
    ctx.moves.append([issuance.id, start, end, None, to_account, "held"])
    serial = format_serial(project.product, project.region, project.id, vintage, start, end)
    result = {"id": issuance.id, "product": project.product, "quantity": quantity,
              "serials": [serial]}
    if not tradable or valid_to is not None:  # only a ruled issuance says so (parity)
        result.update(tradable=tradable, valid_to=valid_to.isoformat() if valid_to else None)
    if digits:
        result["scope"] = {"scope": product.scope, "region": project.region[:digits]}
    return result


@dataclass(frozen=True)
class BatchLine:
    """One issuance of a batch: a project's units to an account, with their rules."""

    project_id: int
    vintage: int
    quantity: int
    to_account: int
    tradable: bool = True
    valid_to: date | None = None


def issue_batch_in(ctx: WriteContext, *, product: str, lines: list[BatchLine]
                   ) -> list[tuple[int, int, int]]:
    """Many issuances of one product inside a caller's ledger write, set-based: serial
    ranges allocated in one pass in the lines' order, then one multi-row INSERT of the
    issuances (ids returned in order) and one of their blocks, not a write per line.
    Returns (issuance id, first serial, last serial) per line (lines of quantity 0 are
    not allowed). The callers have checked the projects and accounts (green/actions.py
    locks its power projects; their accounts are holding accounts)."""
    for line in lines:
        _check_quantity(line.quantity)
    record = ctx.session.scalar(select(Product).where(Product.code == product)
                                .with_for_update())
    if record is None:
        raise UnknownProject(f"未知产品 {product}", f"unknown product {product}")
    if record.scope != "nation" or json.loads(record.methods or "[]"):
        raise InvalidInput(f"{product} 的规则不能批量签发", f"{product} cannot be issued in a "
                           "batch (its scope or methods need a per-project check)")
    start = record.next_serial
    values: list[dict[str, Any]] = []
    ranges: list[tuple[int, int]] = []
    for line in lines:
        end = start + line.quantity - 1
        ranges.append((start, end))
        valid_to = line.valid_to
        if valid_to is None and record.validity_months:
            valid_to = _months_after(blocks.today(), record.validity_months)
        values.append({"project_id": line.project_id, "product": product,
                       "vintage": line.vintage, "quantity": line.quantity,
                       "serial_start": start, "serial_end": end,
                       "tradable": line.tradable and record.tradable, "valid_to": valid_to,
                       "created_at": utcnow()})
        start = end + 1
    record.next_serial = start
    ctx.session.flush()
    if not values:
        return []
    conn = ctx.session.connection()
    if on_postgres(ctx.session):
        ids = _copy_batch(ctx.session, values, lines, ranges)
    else:
        ids = list(conn.execute(
            insert(Issuance).returning(Issuance.id, sort_by_parameter_order=True),
            values).scalars().all())
        conn.execute(insert(UnitBlock), [
            {"issuance_id": issuance_id, "account_id": line.to_account,
             "serial_start": first, "serial_end": last, "state": "held", "hold_id": None,
             "retirement_id": None, "cancellation_id": None}
            for issuance_id, line, (first, last) in zip(ids, lines, ranges, strict=True)])
    ctx.moves.extend([issuance_id, first, last, None, line.to_account, "held"]
                     for issuance_id, line, (first, last) in zip(ids, lines, ranges, strict=True))
    return [(issuance_id, first, last)
            for issuance_id, (first, last) in zip(ids, ranges, strict=True)]


ISSUANCE_COLUMNS = ("id", "project_id", "product", "vintage", "quantity", "serial_start",
                    "serial_end", "tradable", "valid_to", "created_at")


def _copy_batch(session: Session, values: list[dict[str, Any]], lines: list[BatchLine],
                ranges: list[tuple[int, int]]) -> list[int]:
    """PostgreSQL: ids drawn from the issuances' sequence in one query, then the
    issuances and their blocks streamed with COPY (no statement per row)."""
    conn = session.connection()
    ids = list(conn.execute(text(
        "SELECT nextval(pg_get_serial_sequence('issuances', 'id')) "
        "FROM generate_series(1, :n)"), {"n": len(values)}).scalars())
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY issuances ({', '.join(ISSUANCE_COLUMNS)}) FROM STDIN") as copy:
            for issuance_id, row in zip(ids, values, strict=True):
                copy.write_row((issuance_id, *(row[c] for c in ISSUANCE_COLUMNS[1:])))
        with cursor.copy("COPY unit_blocks (issuance_id, account_id, serial_start, serial_end, "
                         "state) FROM STDIN") as copy:
            for issuance_id, line, (first, last) in zip(ids, lines, ranges, strict=True):
                copy.write_row((issuance_id, line.to_account, first, last, "held"))
    return ids


def _check_method(product: Product, methodology: str) -> None:
    allowed = json.loads(product.methods or "[]")
    if allowed and methodology not in allowed:
        raise Conflict(f"方法学 {methodology} 不能签发 {product.code}（可用 {', '.join(allowed)}）",
                       f"methodology {methodology} may not issue {product.code} "
                       f"(allowed: {', '.join(allowed)})")


def _months_after(day: date, months: int) -> date:
    """The last day of the month `months` months on from `day`'s month, that month
    counted (12 months from 2026-03-05: 2027-02-28)."""
    index = day.year * 12 + day.month - 1 + months - 1
    year, month = divmod(index, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def holder_region(session: Session, account_id: int) -> str:
    """The GB/T 2260 code of the holder of an account (for a product's scope of trade)."""
    region = session.scalar(select(Holder.region).join(Account, Account.holder_id == Holder.id)
                            .where(Account.id == account_id))
    if region is None:
        raise unknown_account(account_id)
    return region


def transfer(
    session: Session,
    *,
    from_account: int,
    to_account: int,
    product: str,
    quantity: int,
    actor: Actor,
    project_id: int | None = None,
    vintage: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    product_spec(product)
    _check_quantity(quantity)
    if from_account == to_account:
        raise InvalidInput("转出与转入账户相同", "from and to are the same account")
    if isinstance(actor, Principal) and actor.role == "holder":
        _check_holder_destination(session, to_account)
    actor = actor_name(session, actor, from_account)
    request = {"from_account": from_account, "to_account": to_account, "product": product,
               "quantity": quantity, "project_id": project_id, "vintage": vintage}
    if on_postgres(session):
        return run_server_write(
            session, kind="transfer", request=request, statement=TRANSFER_SQL,
            params={"from_account": from_account, "to_account": to_account, "product": product,
                    "quantity": quantity, "project_id": project_id, "vintage": vintage,
                    "actor": actor},
            translate=lambda state, detail: _transfer_refusal(
                session, state, detail, from_account, to_account, product, quantity),
            idempotency_key=idempotency_key)

    def action(ctx: WriteContext) -> dict[str, Any]:
        accounts = _lock_source(ctx.session, from_account, to_account)
        _check_destination(accounts[to_account])
        whole, part = blocks.take(ctx.session, account_id=from_account, product=product,
                                  quantity=quantity, project_id=project_id, vintage=vintage,
                                  trade=True, to_region=holder_region(ctx.session, to_account))
        serials = blocks.move(ctx.session, whole, part, Place(to_account, "held"), ctx.moves,
                              from_account)
        return {"product": product, "quantity": quantity, "from_account": from_account,
                "to_account": to_account, "serials": serials}

    return run_write(session, kind="transfer", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def _check_holder_destination(session: Session, to_account: int) -> None:
    """A holder transfers into holding accounts only: the registry's buffer and escrow
    accounts take units through its own actions (issuance, holds), never a holder's gift."""
    kind = get_account(session, to_account).kind
    if kind != "holding":
        raise _destination_refused(kind, to_account)


# On PostgreSQL a transfer is one call of the server-side function in registry/sql/transfer.sql.
TRANSFER_SQL = ("SELECT qinglu_transfer(:from_account, :to_account, :product, :quantity, "
                ":project_id, :vintage, :actor, :key, :request)")


def _transfer_refusal(session: Session, state: str, detail: str, from_account: int,
                      to_account: int, product: str, quantity: int) -> QingluError | None:
    """The function's refusals, as the same domain errors the Python path raises (a
    shortfall the product's rules explain says so on both paths)."""
    if state == "QL004":
        return blocks.shortfall(session, from_account, product, quantity,
                                quantity - int(detail or 0), trade=True,
                                to_region=holder_region(session, to_account))
    return account_refusal(state, detail)


def account_refusal(state: str, detail: str) -> QingluError | None:
    """qinglu_lock_accounts' refusals (registry/sql/lock_accounts.sql): an unknown account
    (DETAIL: its id), or one whose kind may not give or take units (DETAIL: kind and id)."""
    kind, _, account_id = detail.partition(" ")
    if state == "QL001":
        return unknown_account(detail)
    if state == "QL002":
        return _source_refused(kind, account_id)
    if state == "QL003":
        return _destination_refused(kind, account_id)
    return None


def escrow_shortfall(account_id: int, product: str, quantity: int, available: str
                     ) -> QingluError:
    """qinglu_move_units' QL004 for units leaving escrow (DETAIL: the units the hold still
    has), worded as `blocks.take` words a hold short of units."""
    return blocks.insufficient(account_id, product, quantity, quantity - int(available or 0))


def retirement_request(*, from_account: int, product: str, quantity: int, beneficiary: str,
                       purpose: str, case_ref: str | None = None,
                       project_id: int | None = None) -> dict[str, Any]:
    """A retirement's terms, checked before its write: the request its ledger entry
    records and the arguments of `retire_in`. The action that retires is
    `documents.actions.retire`, which issues the retirement certificate in the same write."""
    product_spec(product)
    _check_quantity(quantity)
    return {"from_account": from_account, "product": product, "quantity": quantity,
            "beneficiary": checked_beneficiary(beneficiary),
            "purpose": require_text("用途 purpose", purpose, limit=2000),
            "case_ref": case_ref, "project_id": project_id}


def checked_beneficiary(beneficiary: str) -> str:
    """A retirement's beneficiary: a name, never an identifier. It is stated on the public
    registry and on the signed certificate, so an ID number, phone number or credit code
    typed into it is refused (a person's name is masked where the public sees it)."""
    text = require_text("受益人 beneficiary", beneficiary)
    if contains_identifier(text):
        raise InvalidInput(
            "受益人只填姓名或单位名称，不得含身份证号、电话号码或信用代码（将公开显示）",
            "a beneficiary is a name only, without an ID, phone number or credit code "
            "(it is shown to the public)")
    return text


def retire_in(
    ctx: WriteContext,
    *,
    from_account: int,
    product: str,
    quantity: int,
    beneficiary: str,
    purpose: str,
    case_ref: str | None = None,
    project_id: int | None = None,
    hold_id: int | None = None,
) -> dict[str, Any]:
    """The retirement itself, inside a caller's ledger write: `documents.actions.retire`
    (with its certificate) and a case's retirement step use it.

    With `hold_id`, exactly the units escrowed by that hold are retired and the hold
    is settled; otherwise held units are taken in serial order.
    """
    beneficiary = checked_beneficiary(beneficiary)
    target = system_account(ctx.session, "retirement")
    _lock_source(ctx.session, from_account, target.id)
    if hold_id is not None:
        record = _pending_hold(ctx.session, hold_id)
        whole, part = blocks.take(ctx.session, account_id=from_account, product=product,
                                  quantity=quantity, state="escrow", hold_id=hold_id)
        record.quantity -= quantity
        record.status = "settled" if record.quantity == 0 else record.status
    else:
        whole, part = blocks.take(ctx.session, account_id=from_account, product=product,
                                  quantity=quantity, project_id=project_id)
    retirement = Retirement(account_id=from_account, product=product, quantity=quantity,
                            beneficiary=beneficiary, purpose=purpose, case_ref=case_ref,
                            serials=[])
    ctx.session.add(retirement)
    ctx.session.flush()
    serials = blocks.move(ctx.session, whole, part,
                          Place(target.id, "retired", retirement_id=retirement.id), ctx.moves,
                          from_account)
    retirement.serials = serials
    facts = {"id": retirement.id, "product": product, "quantity": quantity,
             "from_account": from_account, "beneficiary": beneficiary, "purpose": purpose,
             "case_ref": case_ref, "serials": serials}
    ctx.records["retirement"] = facts
    ctx.on_sequence.append(lambda sequence: setattr(retirement, "entry_sequence", sequence))
    return dict(facts)


def get_retirement(session: Session, retirement_id: int) -> Retirement:
    retirement = session.get(Retirement, retirement_id)
    if retirement is None:
        raise NotFound(f"注销 {retirement_id} 不存在", f"retirement {retirement_id} does not exist")
    return retirement


def cancel(
    session: Session,
    *,
    from_account: int,
    product: str,
    quantity: int,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    product_spec(product)
    _check_quantity(quantity)
    reason = require_text("原因 reason", reason, limit=2000)
    request = {"from_account": from_account, "product": product, "quantity": quantity,
               "reason": reason}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return cancel_in(ctx, from_account=from_account, product=product, quantity=quantity,
                         reason=reason)

    return run_write(session, kind="cancel", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def cancel_in(ctx: WriteContext, *, from_account: int, product: str, quantity: int,
              reason: str) -> dict[str, Any]:
    """The cancellation itself, inside a caller's ledger write (a reversal uses it)."""
    _check_quantity(quantity)
    target = system_account(ctx.session, "cancellation")
    _lock_source(ctx.session, from_account, target.id)
    whole, part = blocks.take(ctx.session, account_id=from_account, product=product,
                              quantity=quantity)
    cancellation = Cancellation(account_id=from_account, product=product, quantity=quantity,
                                reason=reason, serials=[])
    ctx.session.add(cancellation)
    ctx.session.flush()
    serials = blocks.move(ctx.session, whole, part,
                          Place(target.id, "cancelled", cancellation_id=cancellation.id),
                          ctx.moves, from_account)
    cancellation.serials = serials
    return {"id": cancellation.id, "product": product, "quantity": quantity,
            "from_account": from_account, "reason": reason, "serials": serials}


def expire_in(ctx: WriteContext, *, product: str, day: date) -> dict[str, Any]:
    """Cancel every held unit of `product` whose validity ended before `day`, one
    cancellation per account, inside a caller's ledger write (green/actions.py's expiry
    job). Expired units cannot move before this runs either (blocks.take)."""
    found = blocks.expired(ctx.session, product, day)
    target = system_account(ctx.session, "cancellation")
    _lock_accounts(ctx.session, target.id, *found)
    cancelled = []
    for account_id, taken in found.items():
        quantity = sum(block.quantity for block in taken)
        reason = f"有效期届满核销 expired before {day.isoformat()}"
        record = Cancellation(account_id=account_id, product=product, quantity=quantity,
                              reason=reason, serials=[])
        ctx.session.add(record)
        ctx.session.flush()
        record.serials = blocks.move(
            ctx.session, taken, None,
            Place(target.id, "cancelled", cancellation_id=record.id), ctx.moves, account_id)
        cancelled.append({"id": record.id, "account_id": account_id, "quantity": quantity,
                          "serials": record.serials})
    return {"product": product, "day": day.isoformat(), "cancellations": cancelled,
            "quantity": sum(c["quantity"] for c in cancelled)}


def account_holder_id(session: Session, account_id: int) -> int:
    return get_account(session, account_id).holder_id


def hold(
    session: Session,
    *,
    from_account: int,
    product: str,
    quantity: int,
    purpose: str,
    actor: Actor,
    project_id: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Set units aside in escrow (first phase); they stay the holder's but cannot move."""
    product_spec(product)
    _check_quantity(quantity)
    purpose = require_text("用途 purpose", purpose, limit=2000)
    actor = actor_name(session, actor, from_account)
    request = {"from_account": from_account, "product": product, "quantity": quantity,
               "purpose": purpose, "project_id": project_id}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return hold_in(ctx, from_account=from_account, product=product, quantity=quantity,
                       purpose=purpose, project_id=project_id)

    return run_write(session, kind="hold", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def hold_in(
    ctx: WriteContext,
    *,
    from_account: int,
    product: str,
    quantity: int,
    purpose: str,
    project_id: int | None = None,
) -> dict[str, Any]:
    """The hold itself, inside a caller's ledger write (a case agreement uses it)."""
    _lock_source(ctx.session, from_account)
    whole, part = blocks.take(ctx.session, account_id=from_account, product=product,
                              quantity=quantity, project_id=project_id, trade=True)
    record = Hold(account_id=from_account, product=product, quantity=quantity,
                  purpose=purpose, status="pending")
    ctx.session.add(record)
    ctx.session.flush()
    serials = blocks.move(ctx.session, whole, part,
                          Place(from_account, "escrow", hold_id=record.id), ctx.moves,
                          from_account)
    return {"id": record.id, "product": product, "quantity": quantity,
            "from_account": from_account, "purpose": purpose, "status": "pending",
            "serials": serials}


def _pending_hold(session: Session, hold_id: int) -> Hold:
    record = session.scalar(
        select(Hold).where(Hold.id == hold_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if record is None:
        raise UnknownHold(f"托管 {hold_id} 不存在", f"hold {hold_id} does not exist")
    if record.status != "pending":
        raise hold_closed(hold_id, record.status)
    return record


def hold_quantity(session: Session, hold_id: int, text: str | None) -> int | None:
    """A quantity of the hold's product given as a decimal in its unit (None: all of it)."""
    record = session.get(Hold, hold_id)
    if record is None:
        raise UnknownHold(f"托管 {hold_id} 不存在", f"hold {hold_id} does not exist")
    return parse_quantity(record.product, text) if text else None


def hold_closed(hold_id: int | str, status: str) -> InvalidTransition:
    return InvalidTransition(f"托管 {hold_id} 已{status}", f"hold {hold_id} is already {status}")


def settle(
    session: Session,
    *,
    hold_id: int,
    to_account: int,
    actor: str,
    quantity: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Second phase: deliver held units (all, or `quantity` of them) to `to_account`."""
    if quantity is not None:
        _check_quantity(quantity)
    request = {"hold_id": hold_id, "to_account": to_account, "quantity": quantity}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return settle_in(ctx, hold_id=hold_id, to_account=to_account, quantity=quantity)

    return run_write(session, kind="settle", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def release(
    session: Session,
    *,
    hold_id: int,
    actor: str,
    quantity: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Second phase, the other way: give held units (all, or `quantity`) back to the holder."""
    if quantity is not None:
        _check_quantity(quantity)
    request = {"hold_id": hold_id, "quantity": quantity}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return release_in(ctx, hold_id=hold_id, quantity=quantity)

    return run_write(session, kind="release", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def settle_in(ctx: WriteContext, *, hold_id: int, to_account: int,
              quantity: int | None = None) -> dict[str, Any]:
    """The settlement itself, inside a caller's ledger write (a market trade uses it)."""
    record = _pending_hold(ctx.session, hold_id)
    _check_destination(_lock_accounts(ctx.session, record.account_id, to_account)[to_account])
    amount = record.quantity if quantity is None else quantity
    whole, part = blocks.take(ctx.session, account_id=record.account_id,
                              product=record.product, quantity=amount, state="escrow",
                              hold_id=record.id, trade=True,
                              to_region=holder_region(ctx.session, to_account))
    serials = blocks.move(ctx.session, whole, part, Place(to_account, "held"), ctx.moves,
                          record.account_id)
    record.quantity -= amount
    if record.quantity == 0:
        record.status = "settled"
    record.settled_to = to_account
    return {"id": record.id, "product": record.product, "quantity": amount,
            "to_account": to_account, "status": record.status,
            "remaining": record.quantity, "serials": serials}


def release_in(ctx: WriteContext, *, hold_id: int, quantity: int | None = None
               ) -> dict[str, Any]:
    """The release itself, inside a caller's ledger write (an expired listing uses it)."""
    record = _pending_hold(ctx.session, hold_id)
    _lock_accounts(ctx.session, record.account_id)
    amount = record.quantity if quantity is None else quantity
    whole, part = blocks.take(ctx.session, account_id=record.account_id,
                              product=record.product, quantity=amount, state="escrow",
                              hold_id=record.id, current_only=False)
    serials = blocks.move(ctx.session, whole, part, Place(record.account_id, "held"),
                          ctx.moves, record.account_id)
    record.quantity -= amount
    if record.quantity == 0:
        record.status = "released"
    return {"id": record.id, "product": record.product, "quantity": amount,
            "to_account": record.account_id, "status": record.status,
            "remaining": record.quantity, "serials": serials}


def balance_for(session: Session, principal: Principal, account_id: int
                ) -> dict[str, dict[str, str]]:
    """An account's balance as its holder or the operator sees it: balances are no one
    else's business (the anonymous public is asked to sign in, other holders and other
    roles are refused; see `account_of`)."""
    return balance(session, account_of(session, principal, account_id).id)


def balance(session: Session, account_id: int) -> dict[str, dict[str, str]]:
    """Per product: units held and in escrow (and retired/cancelled for those accounts)."""
    account = get_account(session, account_id)
    rows = session.execute(
        select(Issuance.product, UnitBlock.state,
               func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .where(UnitBlock.account_id == account.id)
        .group_by(Issuance.product, UnitBlock.state)
    ).all()
    totals: dict[str, dict[str, int]] = {}
    for product, state, amount in rows:
        totals.setdefault(product, {"held": 0, "escrow": 0})[state] = int(amount)
    return {
        product: {state: format_quantity(product, amount) for state, amount in states.items()}
        for product, states in sorted(totals.items())
    }


# Serial look-up is a busy public read: portable SQL statements at the driver level (see
# qinglu.db.raw), the issuances the range touches joined to their blocks in it. An
# issuance's blocks tile its serials without overlap, so the first block meeting the
# range is the last to begin at or before :start (or the issuance's first): the blocks
# are then one tight index range, where `serial_start <= :end` alone walks every earlier
# block of the issuance (thousands in a traded issuance).
_ISSUANCES_WITH_BLOCKS = """
    SELECT i.id AS issuance_id, p.region, i.project_id, i.vintage,
           b.serial_start, b.serial_end, b.account_id, b.state, b.hold_id, b.retirement_id,
           b.cancellation_id
    FROM issuances i
    JOIN projects p ON p.id = i.project_id
    LEFT JOIN unit_blocks b ON b.issuance_id = i.id
         AND b.serial_start <= :end AND b.serial_end >= :start
         AND b.serial_start >= COALESCE(
             (SELECT max(serial_start) FROM unit_blocks
              WHERE issuance_id = i.id AND serial_start <= :start), i.serial_start)
"""

# Any range. A product's issuances never overlap (serials come from its one counter):
# those meeting [:start, :end] are the last to begin at or before :start and any that
# begin after it, up to :end. Two index look-ups (ix_issuances_product_start), where a
# range of unknown width was a scan of every issuance of the product (1.5 s at 4.5
# million issuances, bench/scale.py). Its generic plan, though, is costed for that
# unknown width (a parallel scan with JIT, 90 ms on the large ledger), so the server
# plans it afresh at each call: it is kept for ranges across issuances.
_SERIAL_RANGE_SQL = RawQuery(_ISSUANCES_WITH_BLOCKS + """
    WHERE i.product = :product AND i.serial_end >= :start
      AND (i.serial_start = (SELECT max(serial_start) FROM issuances
                             WHERE product = :product AND serial_start <= :start)
           OR (i.serial_start > :start AND i.serial_start <= :end))
    ORDER BY i.serial_start, b.serial_start
""")

# A serial, or a range within one issuance (most look-ups: a unit, a block, a
# certificate's range): the one issuance that begins last at or before :start, if it
# reaches :end. Each part an index equality or one issuance's blocks, so the statement's
# generic plan (which the server keeps after five executions when it costs no more than
# planning each time) is as tight as a custom one.
_SERIAL_SQL = RawQuery(_ISSUANCES_WITH_BLOCKS + """
    WHERE i.product = :product AND i.serial_end >= :end
      AND i.serial_start = (SELECT max(serial_start) FROM issuances
                            WHERE product = :product AND serial_start <= :start)
    ORDER BY b.serial_start
""")


def find_serial(db: Db, serial: str) -> list[dict[str, Any]]:
    """Who holds the units of this serial (or range), and in what state."""
    return raw.run(db, serial_lookup(serial))


def serial_lookup(serial: str) -> raw.Read[list[dict[str, Any]]]:
    """`find_serial` as a `qinglu.db.raw.Read`, for the server's event loop."""
    wanted = parse_serial(serial)
    params = {"product": wanted.product, "start": wanted.start, "end": wanted.end}
    rows = yield _SERIAL_SQL, params
    if not rows and wanted.end > wanted.start:  # across issuances, or not all issued
        rows = yield _SERIAL_RANGE_SQL, params
    if not rows:
        raise InvalidSerial(f"序列号 {serial} 未发行", f"serial {serial} has not been issued")
    found: list[dict[str, Any]] = []
    for row in rows:
        region, project_id, vintage = row["region"], row["project_id"], row["vintage"]
        if (region, project_id, vintage) != (wanted.region, wanted.project_id, wanted.vintage):
            raise InvalidSerial(
                f"序列号 {serial} 与登记的项目、地区或年份不符",
                f"serial {serial} does not match the registered project, region or vintage",
            )
        if row["serial_start"] is None:
            continue
        start, end = max(row["serial_start"], wanted.start), min(row["serial_end"], wanted.end)
        name = functools.partial(format_serial, wanted.product, region, project_id, vintage)
        found.append({
            "serial": name(start, end),
            "block_serial": name(row["serial_start"], row["serial_end"]),
            "account_id": row["account_id"],
            "state": row["state"],
            "product": wanted.product,
            "quantity": format_quantity(wanted.product, end - start + 1),
            "issuance_id": row["issuance_id"],
            "project_id": project_id,
            "vintage": vintage,
            "hold_id": row["hold_id"],
            "retirement_id": row["retirement_id"],
            "cancellation_id": row["cancellation_id"],
        })
    return found


# --- products as data ---------------------------------------------------------------

PRODUCT_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
MAX_DECIMALS = 6
# Each process re-reads the product rows this often (one small SELECT), so a product an
# operator adds through one worker is usable through every other well within 30 s.
PRODUCTS_RELOAD_SECONDS = 10.0
_products_read: dict[URL, float] = {}


@event.listens_for(Session, "after_begin")
def _read_products(session: Session, transaction: SessionTransaction,
                   connection: Connection) -> None:
    """Tell core.quantities of every product row, once per database and again every
    PRODUCTS_RELOAD_SECONDS (so a product added by another process is known soon after)."""
    url = connection.engine.url  # hashable as it is: no text rendered per transaction
    if time.monotonic() - _products_read.get(url, -PRODUCTS_RELOAD_SECONDS) \
            < PRODUCTS_RELOAD_SECONDS:
        return
    _products_read[url] = time.monotonic()
    if not inspect(connection).has_table("products"):
        return  # a database not yet migrated
    for code, name, name_en, unit, decimals in connection.execute(
            text("SELECT code, name, name_en, unit, decimals FROM products")):
        remember_product(ProductSpec(code, name, name_en or name, unit, decimals))


def product_view(product: Product) -> dict[str, Any]:
    return {"code": product.code, "name_zh": product.name, "name_en": product.name_en,
            "unit": product.unit, "base_unit": str(product_spec(product.code).base_unit),
            "decimals": product.decimals, "tradable": product.tradable,
            "validity_months": product.validity_months, "scope": product.scope,
            "methods": json.loads(product.methods or "[]")}


def add_product(session: Session, *, code: str, name_zh: str, name_en: str, unit: str,
                decimals: int, actor: Actor, tradable: bool = True,
                validity_months: int | None = None, scope: str = "nation",
                methods: list[str] | None = None,
                idempotency_key: str | None = None) -> dict[str, Any]:
    """An operator adds a product: a row, no code change. Its rules (tradable, validity
    in months from issuance, scope of trade, the methods that may issue it) bind every
    issuance and move of its units."""
    name = _operator(session, actor)
    code = (code or "").strip().upper()
    if not PRODUCT_CODE.match(code):
        raise InvalidInput(f"产品代码 {code!r} 须为 2-8 位大写字母数字，以字母开头",
                           f"product code {code!r} must be 2-8 capital letters or digits")
    if not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
        raise InvalidInput(f"小数位须为 0-{MAX_DECIMALS}", f"decimals must be 0-{MAX_DECIMALS}")
    if scope not in PRODUCT_SCOPES:
        raise InvalidInput(f"交易范围 {scope!r} 无效（{' '.join(PRODUCT_SCOPES)}）",
                           f"scope {scope!r} is not one of {', '.join(PRODUCT_SCOPES)}")
    if validity_months is not None and not 1 <= validity_months <= 1200:
        raise InvalidInput("有效期须为 1-1200 个月", "validity must be 1-1200 months")
    request = {"code": code, "name_zh": require_text("中文名称 name_zh", name_zh, 100),
               "name_en": require_text("英文名称 name_en", name_en), "tradable": tradable,
               "unit": require_text("单位 unit", unit, 16), "decimals": decimals,
               "validity_months": validity_months, "scope": scope,
               "methods": sorted({require_text("方法学 method", m, 64) for m in methods or []})}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.get(Product, code) is not None:
            raise Conflict(f"产品 {code} 已存在", f"product {code} exists already")
        product = Product(code=code, name=request["name_zh"], name_en=request["name_en"],
                          unit=request["unit"], decimals=decimals, tradable=tradable,
                          validity_months=validity_months, scope=scope,
                          methods=json.dumps(request["methods"]), next_serial=1)
        ctx.session.add(product)
        ctx.session.flush()
        remember_product(ProductSpec(code, product.name, product.name_en, product.unit,
                                     decimals))
        return product_view(product)

    return run_write(session, kind="product.add", actor=name, request=request, action=action,
                     idempotency_key=idempotency_key)


def _operator(session: Session, actor: Actor) -> str:
    if isinstance(actor, str):
        return actor
    if actor.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if actor.role != "operator":
        raise Forbidden("只有运营方可以添加产品", "only an operator may add a product")
    return actor.actor


def list_products(session: Session) -> list[dict[str, Any]]:
    return [product_view(p) for p in session.scalars(select(Product).order_by(Product.code))]


def upgrade_tickets(session: Session, *, from_account: int, from_product: str,
                    to_product: str, quantity: int, actor: Actor,
                    idempotency_key: str | None = None) -> dict[str, Any]:
    """Convert (upgrade) units of a narrower-scope product into a wider one in one ledger
    write: the prefecture tickets are cancelled and the same quantity of provincial
    tickets issued to the same account under a provincial project of the same name, the
    entry (and the cancellation's reason) naming the serials on both sides."""
    product_spec(from_product)
    product_spec(to_product)
    _check_quantity(quantity)
    name = actor_name(session, actor, from_account)
    request = {"from_account": from_account, "from_product": from_product,
               "to_product": to_product, "quantity": quantity}

    def action(ctx: WriteContext) -> dict[str, Any]:
        old, new = ctx.session.get(Product, from_product), ctx.session.get(Product, to_product)
        assert old is not None and new is not None  # product_spec knew both
        if SCOPE_DIGITS[new.scope] >= SCOPE_DIGITS[old.scope] or new.unit != old.unit \
                or new.decimals != old.decimals:
            raise InvalidInput(f"{from_product} 不能升级为 {to_product}",
                               f"{from_product} cannot be upgraded to {to_product} (a wider "
                               "scope in the same unit is needed)")
        cancelled = cancel_in(ctx, from_account=from_account, product=from_product,
                              quantity=quantity,
                              reason=f"升级为 {to_product} upgraded to {to_product}")
        issued = []
        for serial in cancelled["serials"]:
            source = parse_serial(serial)
            project = _upgraded_project(ctx, source.project_id, new)
            done = issue_in(ctx, project_id=project, vintage=source.vintage,
                            quantity=source.quantity, to_account=from_account)
            issued.append({"from": serial, "to": done["serials"][0]})
        ctx.records["upgrade"] = issued
        return {"from_product": from_product, "to_product": to_product,
                "quantity": quantity, "from_account": from_account,
                "cancellation_id": cancelled["id"], "links": issued}

    return run_write(session, kind="product.upgrade", actor=name, request=request,
                     action=action, idempotency_key=idempotency_key)


def _upgraded_project(ctx: WriteContext, project_id: int, product: Product) -> int:
    """The wider product's project standing for a narrower one (found or made): same
    name and methodology, its region the wider scope's (a province: 52 -> 520000)."""
    source = get_project(ctx.session, project_id)
    digits = SCOPE_DIGITS[product.scope]
    region = (source.region[:digits] + "0" * (6 - digits)) if digits else "000000"
    found = ctx.session.scalar(select(Project.id).where(
        Project.product == product.code, Project.name == source.name,
        Project.region == region))
    if found is not None:
        return int(found)
    made = add_project_in(ctx, name=source.name, product=product.code, region=region,
                          methodology=source.methodology,
                          owner_holder_id=source.owner_holder_id)
    return int(made["id"])
