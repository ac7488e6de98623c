"""The full audit's replay compares every issuance's blocks with the moves the ledger
recorded: read in pages along one index, so its statements do not grow with the
issuances (a ledger of batch-issued certificates holds millions), and a block edited
behind the registry's back is named wherever the pages cut."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from qinglu.registry import actions as registry
from qinglu.registry import audit
from tests import factories as f

A = "test"


def issue_split(session: Session, issuances: int) -> tuple[int, int]:
    """`issuances` issuances, each cut into three blocks by two transfers."""
    source, target = f.account(session), f.account(session)
    project = f.project(session)
    for _ in range(issuances):
        registry.issue(session, project_id=project, vintage=2023, quantity=300,
                       to_account=source, actor=A)
    for _ in range(issuances):
        registry.transfer(session, from_account=source, to_account=target, product="FCS",
                          quantity=100, actor=A)
    return source, target


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_replay_reads_the_blocks_in_pages_not_one_statement_an_issuance(
        session: Session) -> None:
    issue_split(session, 3)
    with statements(session) as few:
        assert audit.replay_moves(session) == ([], None)
    issue_split(session, 12)
    with statements(session) as many:
        assert audit.replay_moves(session) == ([], None)
    block_reads = [s for s in many if "FROM unit_blocks" in s]
    assert len(block_reads) == len([s for s in few if "FROM unit_blocks" in s]) == 2, many


@pytest.mark.parametrize("page", [1, 2, 4, 10_000])
def test_a_block_edited_behind_the_registry_is_named_wherever_the_pages_cut(
        session: Session, page: int, monkeypatch: pytest.MonkeyPatch) -> None:
    issue_split(session, 4)
    issuances = list(session.scalars(text("SELECT id FROM issuances ORDER BY id")))
    tampered = issuances[2]
    stranger = f.account(session)
    session.execute(text("UPDATE unit_blocks SET account_id = :a WHERE id = (SELECT max(id) "
                         "FROM unit_blocks WHERE issuance_id = :i)"),
                    {"a": stranger, "i": tampered})
    session.commit()
    paged = audit._blocks_by_issuance
    monkeypatch.setattr(audit, "_blocks_by_issuance",
                        lambda s: paged(s, batch=page))
    problems, _first_bad = audit.replay_moves(session)
    assert problems == [f"issuance {tampered}: unit blocks differ from the ledger's record "
                        "/ 单位区块与账本记录不符"]
