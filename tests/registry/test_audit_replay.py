"""The full audit's replay compares every issuance's blocks with the moves the ledger
recorded: read in pages along one index, so its statements do not grow with the
issuances (a ledger of batch-issued certificates holds millions), and a block edited
behind the registry's back is named wherever the pages cut."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from qinglu.registry import actions as registry
from qinglu.registry import audit
from tests import factories as f
from tests.statements import counting

A = "test"


def issue_split(session: Session, issuances: int) -> None:
    """`issuances` issuances to one account, and twice as many transfers of 50 units out
    of it to two accounts in turn (which cut the first issuances into blocks that do not
    merge)."""
    source, targets = f.account(session), (f.account(session), f.account(session))
    project = f.project(session)
    for _ in range(issuances):
        registry.issue(session, project_id=project, vintage=2023, quantity=300,
                       to_account=source, actor=A)
    for n in range(2 * issuances):
        registry.transfer(session, from_account=source, to_account=targets[n % 2],
                          product="FCS", quantity=50, actor=A)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements run meanwhile (`tests.statements.counting`), filled in at the end,
    without SQLite's BEGIN (its transactions are begun by a statement)."""
    kept: list[str] = []
    with counting() as seen:
        yield kept
    kept += [statement for statement in seen if statement != "BEGIN"]


CHECKS = {"replay": lambda s, page: audit.replay_moves(s, batch=page)[0],
          "tiling": lambda s, page: audit.check_tiling(s),
          "conservation": lambda s, page: audit.check_conservation(s),
          "states": lambda s, page: audit.check_states(s)}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_full_checks_do_not_send_a_statement_an_issuance(
        session: Session, check: str) -> None:
    issue_split(session, 3)
    with statements() as few:
        assert CHECKS[check](session, audit.PAGE) == []
    issue_split(session, 12)
    with statements() as many:
        assert CHECKS[check](session, audit.PAGE) == []
    assert len(many) == len(few) <= 3, many


def test_the_replay_reads_a_statement_a_page(session: Session) -> None:
    issue_split(session, 15)
    blocks = session.scalar(text("SELECT count(*) FROM unit_blocks"))
    assert blocks > 20
    with statements() as paged:
        assert audit.replay_moves(session, batch=10) == ([], None)
    block_reads = [s for s in paged if "FROM unit_blocks" in s]
    assert len(block_reads) == blocks // 10 + 1, paged


@pytest.mark.parametrize("check", ["tiling", "conservation", "states"])
def test_the_incremental_checks_ask_for_a_few_hundred_issuances_at_a_time(
        session: Session, check: str) -> None:
    issue_split(session, 3)
    ids = set(session.scalars(text("SELECT id FROM issuances")))
    many = ids | set(range(10**6, 10**6 + 2 * audit.IDS_A_STATEMENT))  # and some unknown
    run = {"tiling": audit.check_tiling, "conservation": audit.check_conservation,
           "states": audit.check_states}[check]
    with statements() as asked:
        assert run(session, many) == []
    per_chunk = len(asked) // 3
    assert len(asked) == 3 * per_chunk and per_chunk >= 1, asked


def tamper(session: Session, sql: str, issuance: int) -> None:
    session.execute(text(sql), {"i": issuance})
    session.commit()


# The last block of the third issuance, edited behind the registry's back.
LAST_BLOCK = "(SELECT max(id) FROM unit_blocks WHERE issuance_id = :i)"
EDITS = {
    "another holder": ("UPDATE unit_blocks SET account_id = (SELECT max(id) FROM accounts) "
                       f"WHERE id = {LAST_BLOCK}",
                       {"replay": "unit blocks differ from the ledger's record"}),
    "a unit more": (f"UPDATE unit_blocks SET serial_end = serial_end + 1 WHERE id = {LAST_BLOCK}",
                    {"replay": "unit blocks differ from the ledger's record",
                     "tiling": "blocks end at", "conservation": "issued 300, blocks hold 301"}),
    "a gap": ("UPDATE unit_blocks SET serial_start = serial_start + 1 "
              f"WHERE id = {LAST_BLOCK}",
              {"replay": "unit blocks differ from the ledger's record",
               "tiling": "gap at serial", "conservation": "issued 300, blocks hold 299"}),
    "retired in place": (f"UPDATE unit_blocks SET state = 'retired' WHERE id = {LAST_BLOCK}",
                         {"replay": "unit blocks differ from the ledger's record",
                          "states": "retired outside a retirement"}),
}


@pytest.mark.parametrize("page", [1, 2, 4, 10_000])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_block_is_named_by_each_check_wherever_the_pages_cut(
        session: Session, page: int, edit: str) -> None:
    issue_split(session, 4)
    issuances = list(session.scalars(text("SELECT id FROM issuances ORDER BY id")))
    edited = issuances[2]
    f.account(session)  # a stranger, the newest account
    sql, named = EDITS[edit]
    tamper(session, sql, edited)
    block = session.scalar(text(f"SELECT id FROM unit_blocks WHERE id = {LAST_BLOCK}"),
                           {"i": edited})
    for check, run in CHECKS.items():
        problems = run(session, page)
        if check not in named:
            assert problems == [], (check, problems)
            continue
        assert len(problems) == 1 and named[check] in problems[0], (check, problems)
        assert (f"issuance {edited}:" in problems[0] or f"block {block}:" in problems[0]), \
            problems
