"""Registry services for holders, accounts and projects.

Services take a session and plain values, write through `run_write`, and
return JSON-able dicts (the same dict an idempotent repeat returns).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.registry.errors import (
    AccountKindNotAllowed,
    Conflict,
    InvalidInput,
    UnknownAccount,
    UnknownHolder,
    UnknownProject,
)
from qinglu.registry.identifiers import (
    mask_id_number,
    mask_person_name,
    validate_region,
    validate_resident_id,
    validate_uscc,
)
from qinglu.registry.ledger import WriteContext, run_write
from qinglu.registry.models import ACCOUNT_KINDS, Account, Holder, Project
from qinglu.registry.quantities import product_spec

REGISTRY_HOLDER_NUMBER = "QINGLU-REGISTRY"


def _require_text(field: str, value: str, limit: int = 200) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} 不能为空", f"{field} must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{field} 过长（最多{limit}字）", f"{field} is too long (max {limit})")
    return value


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
    name = _require_text("名称 name", name)
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


def accounts_of(session: Session, holder_id: int, kind: str | None = None) -> list[Account]:
    """A holder's accounts (of one kind, if given), oldest first."""
    query = select(Account).where(Account.holder_id == holder_id)
    if kind is not None:
        query = query.where(Account.kind == kind)
    return list(session.scalars(query.order_by(Account.id)))


def account_view(account: Account) -> dict[str, Any]:
    return {"id": account.id, "holder_id": account.holder_id, "kind": account.kind}


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
    name = _require_text("项目名称 project name", name)
    methodology = _require_text("方法学 methodology", methodology, limit=64)
    region = validate_region(region)
    request = {
        "name": name, "product": product, "region": region,
        "methodology": methodology, "owner_holder_id": owner_holder_id,
    }

    def action(ctx: WriteContext) -> dict[str, Any]:
        if owner_holder_id is not None:
            get_holder(ctx.session, owner_holder_id)
        project = Project(
            name=name, product=product, region=region, methodology=methodology,
            owner_holder_id=owner_holder_id,
        )
        ctx.session.add(project)
        ctx.session.flush()
        return project_view(project)

    return run_write(
        session, kind="project.add", actor=actor, request=request, action=action,
        idempotency_key=idempotency_key,
    )


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise UnknownProject(f"项目 {project_id} 不存在", f"project {project_id} does not exist")
    return project
