"""`qinglu audit verify` goes on from the head the last passing audit verified: it checks
only the entries after it (and that the head and the log tree up to it are unchanged);
`--full` replays everything."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.registry.test_checkpoints import (  # noqa: F401 (a fixture)
    own_checkpoint_dir,
    qinglu,
    seeded,
    two_writes,
)
from tests.registry.test_merkle import bulk_entries


def test_an_audit_checks_only_what_came_after_the_verified_head(
        database_url: str, session: Session) -> None:
    source, target = seeded(database_url)
    code, first = qinglu(database_url, "audit", "verify")
    assert code == 0 and first["checked_from"] is None  # no head verified yet: all of it
    two_writes(database_url, source, target)
    code, second = qinglu(database_url, "audit", "verify")
    assert code == 0, second
    assert (second["checked_from"], second["entries_checked"]) == (first["entries"], 2)
    # A new entry edited: the incremental audit names it.
    two_writes(database_url, source, target)
    session.execute(text("UPDATE ledger_entries SET actor = 'x' WHERE sequence = :s"),
                    {"s": second["entries"] + 1})
    session.commit()
    code, report = qinglu(database_url, "audit", "verify")
    assert code != 0 and report["first_bad_entry"] == second["entries"] + 1


def test_a_changed_verified_head_or_older_entry_is_caught(
        database_url: str, session: Session) -> None:
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    code, verified = qinglu(database_url, "audit", "verify")
    assert code == 0
    session.execute(text("UPDATE ledger_entries SET hash = :h WHERE sequence = :s"),
                    {"h": "0" * 64, "s": verified["entries"]})
    session.commit()
    code, report = qinglu(database_url, "audit", "verify")
    assert code != 0 and any("has changed" in p for p in report["problems"]), report
    session.execute(text("UPDATE ledger_entries SET hash = :h WHERE sequence = :s"),
                    {"h": verified["head"], "s": verified["entries"]})
    session.execute(text("UPDATE ledger_entries SET actor = 'x' WHERE sequence = 1"))
    session.commit()
    code, report = qinglu(database_url, "audit", "verify", "--full")
    assert code != 0 and report["first_bad_entry"] == 1


def test_a_tampered_log_tree_is_caught(database_url: str, session: Session) -> None:
    bulk_entries(session, 40)  # stored nodes: 16-leaf subtrees 4/0, 4/1 and 32-leaf 5/0
    code, verified = qinglu(database_url, "audit", "verify")
    assert code == 0 and verified["entries"] == 40, verified
    # A node inside the tree: the full audit recomputes every node from the entries.
    session.execute(text("UPDATE log_nodes SET hash = :h WHERE level = 4 AND idx = 0"),
                    {"h": b"\x00" * 32})
    session.commit()
    code, report = qinglu(database_url, "audit", "verify", "--full")
    assert code != 0 and any("node 4/0" in p for p in report["problems"]), report
    # A node the verified head's root is made of: the incremental audit sees it too.
    session.execute(text("UPDATE log_nodes SET hash = :h WHERE level = 5 AND idx = 0"),
                    {"h": b"\x00" * 32})
    session.commit()
    code, report = qinglu(database_url, "audit", "verify")
    assert code != 0 and any("log tree" in p for p in report["problems"]), report
