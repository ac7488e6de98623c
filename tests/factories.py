"""Small builders for registry objects with valid, made-up identifiers."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from qinglu.core.identifiers import resident_id_check_char, uscc_check_char
from qinglu.registry import actions as registry

ACTOR = "test"
_counter = itertools.count(1)


def make_uscc(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"91520100MA{n:07d}"
    return first17 + uscc_check_char(first17)


def make_resident_id(n: int | None = None) -> str:
    n = next(_counter) if n is None else n
    first17 = f"52263519800101{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def org(session: Session, name: str = "剑河县碳汇交易运营中心", region: str = "522629") -> int:
    result = registry.add_holder(session, kind="org", name=name, id_number=make_uscc(),
                                region=region, actor=ACTOR)
    return int(result["id"])


def account(session: Session, holder_id: int | None = None, kind: str = "holding") -> int:
    holder_id = holder_id if holder_id is not None else org(session)
    return int(registry.open_account(session, holder_id=holder_id, kind=kind, actor=ACTOR)["id"])


def project(session: Session, product: str = "FCS", region: str = "522629") -> int:
    result = registry.add_project(session, name="剑河县林业碳汇项目", product=product,
                                  region=region,
                                 methodology="GZ-FCS-001", actor=ACTOR)
    return int(result["id"])


def issued_account(session: Session, quantity: int = 100_000, product: str = "FCS",
                   vintage: int = 2023) -> tuple[int, int, dict[str, Any]]:
    """A holding account with `quantity` base units freshly issued into it."""
    acct = account(session)
    proj = project(session, product=product)
    result = registry.issue(session, project_id=proj, vintage=vintage, quantity=quantity,
                         to_account=acct, actor=ACTOR)
    return acct, proj, result
