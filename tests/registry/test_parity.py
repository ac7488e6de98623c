"""Parity: the server path and the Python path write the same ledger, byte for byte.

On PostgreSQL a transfer, a market order and a payment run in the server-side functions
of registry/sql and market/sql; everything else, and all of it on SQLite, runs in Python.
Hypothesis draws sequences of operations (issue, transfer and give back, hold, settle,
release, retire, cancel, list, order, pay, cancel a listing, let time pass), refused ones
included: too few units, unknown accounts (two at once, too), accounts of a kind that may
not give or take units, closed holds, listings and orders, repeated idempotency keys. Two
PostgreSQL databases are cloned from one migrated template holding a starting world (a
project id past 999,999 and serials past 10^12 among it): one used as production uses
it, one forced down the Python path (`make_engine(server_functions=False)`). Each
sequence runs on both, each put back to the world first.

After every operation both answers must be equal: the same result, or the same refusal
(class, code, and wording in Chinese and in English). After the sequence: every table's
rows, clock columns aside (ledger entries' actors, kinds, keys and bodies byte for byte,
serial strings, blocks and so balances, holds, listings, orders, vouchers and their
signatures); each chain verifies; and the Python path's entries, hashed at the server
path's instants, give the server path's very hashes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from qinglu.core.errors import QingluError
from qinglu.core.ledger import GENESIS_HASH, canonical_json, entry_hash, verify_chain
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.db.models import metadata
from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey, load_or_create_key
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from qinglu.registry import stats
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # some ten seconds of random sequences

A = "parity"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
UNKNOWN_HIGH, UNKNOWN_LOW = 99_999, 99_998  # two unknown accounts, the higher one first
UNKNOWN_RECORD = 88_888  # a hold, listing or order that does not exist
UNKNOWN_PROJECT = 424_242
WIDE_PROJECT = 1_000_000
# Tables whose rows must match; columns filled from a clock are left out.
TABLES = ("products", "holders", "accounts", "projects", "issuances", "unit_blocks", "holds",
          "retirements", "cancellations", "listings", "orders", "certificates",
          "ledger_entries", "ledger_head")
CLOCK_COLUMNS = {"created_at", "closed_at", "issued_at", "recorded_at", "hash", "prev_hash"}
RECORDED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


@dataclass(frozen=True)
class World:
    """What every sequence starts from: accounts and projects (by position), two open
    listings (their holds) and a pending order."""

    accounts: tuple[int, ...]
    projects: tuple[int, ...]
    listings: tuple[int, ...]
    holds: tuple[int, ...]
    orders: tuple[int, ...]


def build_world(session: Session) -> World:
    """Holders of every kind, accounts of every kind, three projects (one with the id
    1,000,000, its serials crossing 10^12), units of both products in every holding
    account, two listings and an order."""
    org1 = registry.add_holder(session, kind="org", name="剑河县碳汇交易运营中心",
                               id_number=f.make_uscc(900_001), region="522629", actor=A)["id"]
    org2 = registry.add_holder(session, kind="org", name="贵州某电力有限公司",
                               id_number=f.make_uscc(900_002), region="520000", actor=A)["id"]
    person = registry.add_holder(session, kind="person", name="钟某某",
                                 id_number=f.make_resident_id(7), region="522601", actor=A)["id"]

    def account(holder: int, kind: str = "holding") -> int:
        return int(registry.open_account(session, holder_id=holder, kind=kind, actor=A)["id"])

    def project(product: str, region: str) -> int:
        return int(registry.add_project(session, name=f"{product} {region} 项目", product=product,
                                        region=region, methodology="GZ-FCS-001", actor=A)["id"])

    holding = [account(org1), account(org2), account(person)]
    buffer, escrow = account(org1, "buffer"), account(org2, "escrow")
    fcs, gec = project("FCS", "522629"), project("GEC", "520000")
    wide = project("FCS", "522601")
    session.execute(text("UPDATE projects SET id = :wide WHERE id = :id"),
                    {"wide": WIDE_PROJECT, "id": wide})
    session.commit()

    def issue(project_id: int, vintage: int, quantity: int, to: int) -> None:
        registry.issue(session, project_id=project_id, vintage=vintage, quantity=quantity,
                       to_account=to, actor=A)

    # The first issuance, so the first units account 0 gives: serials from 12 digits to 13.
    session.execute(text("UPDATE products SET next_serial = :n WHERE code = 'FCS'"),
                    {"n": 10**12 - 2_000})
    session.commit()
    issue(WIDE_PROJECT, 2024, 5_000, holding[0])
    issue(fcs, 2023, 20_000, holding[0])
    issue(fcs, 2024, 8_000, holding[1])
    issue(fcs, 2023, 3_000, holding[2])
    issue(fcs, 2023, 1_000, buffer)
    for account_id in holding:
        issue(gec, 2024, 2_000, account_id)
    listed = [market.create_listing(session, seller_account=seller, product=product,
                                    quantity=quantity, price=Decimal(price), min_lot=10,
                                    expires_at=T0 + timedelta(hours=6), actor=A, now=T0)
              for seller, product, quantity, price in ((holding[1], "FCS", 2_000, "48.50"),
                                                       (holding[0], "GEC", 500, "60.5"))]
    order = market.place_order(session, listing_id=listed[0]["id"], buyer_account=holding[0],
                               quantity=100, actor=A, now=T0)
    retirement = registry.system_account(session, "retirement").id
    cancellation = registry.system_account(session, "cancellation").id
    return World(accounts=(*holding, buffer, escrow, retirement, cancellation, UNKNOWN_HIGH,
                           UNKNOWN_LOW),
                 projects=(fcs, gec, WIDE_PROJECT),
                 listings=tuple(listing["id"] for listing in listed),
                 holds=tuple(listing["hold_id"] for listing in listed),
                 orders=(order["id"],))


@dataclass(frozen=True)
class Snapshot:
    """Every table's rows and every sequence's position, to put a database back to."""

    rows: dict[str, list[dict[str, Any]]]
    sequences: dict[str, tuple[int, bool]]

    @classmethod
    def take(cls, engine: Engine) -> Snapshot:
        with engine.connect() as connection:
            rows = {table.name: [dict(row) for row in
                                 connection.execute(select(table)).mappings()]
                    for table in metadata.sorted_tables}
            names = connection.execute(text(
                "SELECT relname FROM pg_class WHERE relkind = 'S' "
                "AND relnamespace = current_schema()::regnamespace")).scalars().all()
            sequences = {}
            for name in names:
                value, called = connection.execute(
                    text(f'SELECT last_value, is_called FROM "{name}"')).one()
                sequences[name] = (int(value), bool(called))
        return cls(rows, sequences)

    def restore(self, engine: Engine) -> None:
        with engine.begin() as connection:
            # The rows go back as they were: no trigger may add to them (the public
            # totals would count the re-inserted blocks and issuances again).
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
            for table in metadata.sorted_tables:
                if self.rows[table.name]:
                    connection.execute(table.insert(), self.rows[table.name])
            for name, (value, called) in self.sequences.items():
                connection.execute(text("SELECT setval(:name, :value, :called)"),
                                   {"name": f'"{name}"', "value": value, "called": called})


class ParityDatabases:
    """Two PostgreSQL databases cloned from one template that was migrated and given the
    world once: one used as production uses it, one forced down the Python path. Between
    sequences each is put back to the world (a few statements, where a fresh clone costs a
    file copy and a checkpoint). All are dropped on `close`."""

    def __init__(self, admin_url: str, build: Callable[[Session], World]) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        prefix = f"qinglu_parity_{uuid.uuid4().hex[:8]}"
        self.names = [f"{prefix}_template", f"{prefix}_server", f"{prefix}_python"]
        self._execute(f'CREATE DATABASE "{self.names[0]}"')
        engine = make_engine(self._url(self.names[0]), server_functions=False)
        try:
            upgrade(engine)
            with make_session_factory(engine)() as session:
                self.world = build(session)
            self.snapshot = Snapshot.take(engine)
        finally:
            engine.dispose()  # a template is cloned only while nobody is connected to it
        for name in self.names[1:]:
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.names[0]}"')
        self.server = make_engine(self._url(self.names[1]))
        self.python = make_engine(self._url(self.names[2]), server_functions=False)

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(
            hide_password=False)

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def reset(self) -> None:
        for engine in (self.server, self.python):
            self.snapshot.restore(engine)

    def close(self) -> None:
        self.server.dispose()
        self.python.dispose()
        for name in self.names:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


# Operations, drawn as plain tuples: account and record arguments are positions, resolved
# against the world and the records made so far, the same on both databases. Most draw
# from the holding accounts and the records just made, so that most operations can go
# through; the rest (unknown accounts and records, system accounts, too large
# quantities) are refused, and must be refused alike.
# Positions in World.accounts: 0-2 holding, 3 buffer, 4 an escrow-kind account, 5 and 6
# the registry's retirement and cancellation accounts, 7 and 8 unknown.
accounts_ = st.sampled_from([0, 1, 2] * 4 + [3, 4, 5, 6, 7, 8])
# Two different holding accounts, or a pair that must be refused: two unknown accounts (the
# higher id first, and last), an unknown one beside a known one, the same account twice,
# system accounts and kinds that may not give or take.
two_holding = st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([1, 2])).map(
    lambda pair: (pair[0], (pair[0] + pair[1]) % 3))
odd_pairs = st.sampled_from([(7, 8), (8, 7), (0, 7), (7, 0), (0, 5), (5, 0), (0, 6), (6, 1),
                             (3, 4), (4, 0), (0, 4), (3, 1), (1, 1)])
products = st.sampled_from(["FCS", "FCS", "FCS", "GEC"])
quantities = st.one_of(st.integers(1, 300), st.integers(1, 300), st.integers(1, 30_000))
maybe = st.one_of(st.none(), st.integers(1, 300))
keys = st.sampled_from([None, None, None, "key-1", "key-2"])
picks = st.sampled_from([0, 0, 1, 2, 3, -1])  # -1: a record that does not exist

transfers = st.tuples(st.just("transfer"), st.one_of(two_holding, odd_pairs),
                      products, quantities, st.sampled_from([None, None, 0, 2, 3]),
                      st.sampled_from([None, None, 2023, 2024]), keys)
listings = st.tuples(st.just("list"), accounts_, products, quantities,
                     st.one_of(st.integers(1, 20), st.integers(1, 300)),
                     st.sampled_from(["48.50", "60.5", "0.0001", "999.1234"]),
                     st.integers(1, 6))
orders = st.tuples(st.just("order"), picks, accounts_,
                   st.one_of(st.integers(1, 60), st.integers(1, 60), quantities), keys)
payments = st.tuples(st.just("pay"), picks, st.sampled_from(["CCB-1", "CCB-2"]), keys)
# The last transfer undone, in full or in part: the units go back beside the ones they
# were split from, and merge with them.
give_backs = st.tuples(st.just("give_back"), st.sampled_from([100, 100, 50, 1]))
operations = st.one_of(
    transfers, transfers, transfers, give_backs, listings, orders, orders, orders, payments,
    payments,
    st.tuples(st.just("issue"), st.integers(0, 3), st.sampled_from([2023, 2024]),
              st.integers(1, 5_000), accounts_),
    st.tuples(st.just("hold"), accounts_, products, quantities),
    st.tuples(st.just("settle"), picks, accounts_, maybe),
    st.tuples(st.just("release"), picks, maybe),
    st.tuples(st.just("retire"), accounts_, products, quantities),
    st.tuples(st.just("cancel"), accounts_, products, quantities),
    st.tuples(st.just("cancel_listing"), picks),
    st.tuples(st.just("wait"), st.integers(1, 400)),
)


# Sequences always run besides the random ones: each reaches a place where the two paths
# once differed or easily could (positions as in the strategies above; record picks count
# back from the latest: the world's listings are [FCS by account 1, GEC by account 0], its
# order is account 0's, on the first).
EXAMPLES: list[list[tuple[Any, ...]]] = [
    # Unknown accounts, two at once in both orders; kinds that may not give or take.
    [("transfer", (7, 8), "FCS", 1, None, None, None),
     ("transfer", (8, 7), "FCS", 1, None, None, None),
     ("transfer", (0, 7), "FCS", 1, None, None, None),
     ("transfer", (7, 0), "GEC", 1, None, None, None),
     ("transfer", (0, 5), "FCS", 1, None, None, None),
     ("transfer", (5, 0), "FCS", 1, None, None, None),
     ("transfer", (0, 6), "FCS", 1, None, None, None),
     ("transfer", (3, 4), "FCS", 10, None, None, None),
     ("transfer", (4, 0), "FCS", 5, None, None, None),
     ("transfer", (1, 1), "FCS", 5, None, None, None)],
    # Serials of project 1,000,000 from 12 digits to 13, splits, merges, filters, a repeat.
    [("transfer", (0, 1), "FCS", 2_500, None, None, None), ("give_back", 100),
     ("transfer", (0, 1), "FCS", 30, 2, 2024, "key-1"),
     ("transfer", (0, 1), "FCS", 30, 2, 2024, "key-1"),
     ("transfer", (0, 1), "FCS", 31, 2, 2024, "key-1"), ("give_back", 50),
     ("transfer", (1, 2), "FCS", 30_000, None, None, None),
     ("transfer", (0, 2), "GEC", 1, 3, None, None)],
    # The market: an order and its payment, repeated and contradicted, refused orders.
    [("order", 0, 1, 50, None), ("pay", 0, "CCB-1", None), ("pay", 0, "CCB-1", None),
     ("pay", 0, "CCB-2", None), ("pay", 1, "CCB-1", "key-2"), ("order", 1, 2, 5, None),
     ("order", 1, 1, 100, None), ("order", -1, 0, 10, None), ("order", 0, 7, 20, None),
     ("order", 1, 2, 9_999, None), ("wait", 400), ("order", 0, 1, 10, None),
     ("pay", 0, "CCB-1", None)],
    # A payment whose listing's hold was released underneath it: the hold is closed.
    [("release", 1, None), ("pay", 0, "CCB-1", None),
     ("list", 2, "GEC", 40, 5, "0.0001", 1), ("order", 0, 0, 7, None),
     ("pay", 0, "CCB-2", None)],
    # The listing's hold settled directly, outside the market, below its pending order: the
    # payment finds escrow short and both paths refuse it alike.
    [("settle", 1, 2, 1_950), ("pay", 0, "CCB-1", None), ("release", 1, 40),
     ("pay", 0, "CCB-2", None)],
]


@dataclass
class Records:
    """The records both runs have made so far, and the clock they share."""

    world: World
    last_transfer: tuple[int, int, str, int] = (0, 1, "FCS", 10)  # from, to, product, units
    holds: list[int] = field(default_factory=list)
    listings: list[int] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)
    now: datetime = T0

    def __post_init__(self) -> None:
        self.holds = [*self.world.holds]
        self.listings = [*self.world.listings]
        self.orders = [*self.world.orders]

    def account(self, position: int) -> int:
        return self.world.accounts[position]

    def project(self, position: int | None) -> int | None:
        if position is None:
            return None
        if position < len(self.world.projects):
            return self.world.projects[position]
        return UNKNOWN_PROJECT

    @staticmethod
    def pick(made: list[int], position: int) -> int:
        """The record `position` places back from the latest (-1: one that does not exist)."""
        if position < 0 or not made:
            return UNKNOWN_RECORD
        return made[-1 - position % len(made)]


def run(session: Session, key: RegistryKey, records: Records, op: tuple[Any, ...]
        ) -> dict[str, Any]:
    """One operation through the actions every adapter calls; returns its result."""
    name, *args = op
    r = records
    if name == "issue":
        project, vintage, quantity, to = args
        return registry.issue(session, project_id=r.project(project) or UNKNOWN_PROJECT,
                              vintage=vintage, quantity=quantity, to_account=r.account(to),
                              actor=A)
    if name == "transfer":
        (source, to), product, quantity, project, vintage, idem = args
        return registry.transfer(session, from_account=r.account(source),
                                 to_account=r.account(to), product=product, quantity=quantity,
                                 project_id=r.project(project), vintage=vintage, actor=A,
                                 idempotency_key=idem)
    if name == "give_back":
        source, to, product, quantity = r.last_transfer
        return registry.transfer(session, from_account=r.account(to),
                                 to_account=r.account(source), product=product,
                                 quantity=max(1, quantity * args[0] // 100), actor=A)
    if name == "hold":
        source, product, quantity = args
        return registry.hold(session, from_account=r.account(source), product=product,
                             quantity=quantity, purpose="托管 escrow", actor=A)
    if name == "settle":
        hold, to, quantity = args
        return registry.settle(session, hold_id=r.pick(r.holds, hold), to_account=r.account(to),
                               quantity=quantity, actor=A)
    if name == "release":
        hold, quantity = args
        return registry.release(session, hold_id=r.pick(r.holds, hold), quantity=quantity,
                                actor=A)
    if name == "retire":
        source, product, quantity = args
        return documents.retire(session, key, from_account=r.account(source), product=product,
                                quantity=quantity, beneficiary="贵州某公司",
                                purpose="碳中和 carbon neutral", actor=A)
    if name == "cancel":
        source, product, quantity = args
        return registry.cancel(session, from_account=r.account(source), product=product,
                               quantity=quantity, reason="核销 cancelled", actor=A)
    if name == "list":
        seller, product, quantity, min_lot, price, hours = args
        return market.create_listing(session, seller_account=r.account(seller),
                                     product=product, quantity=quantity, price=Decimal(price),
                                     min_lot=min(min_lot, quantity),
                                     expires_at=r.now + timedelta(hours=hours), actor=A,
                                     now=r.now)
    if name == "order":
        listing, buyer, quantity, idem = args
        return market.place_order(session, listing_id=r.pick(r.listings, listing),
                                  buyer_account=r.account(buyer), quantity=quantity, actor=A,
                                  idempotency_key=idem, now=r.now)
    if name == "pay":
        order, reference, idem = args
        return market.confirm_payment(session, key, order_id=r.pick(r.orders, order),
                                      reference=reference, actor=A, idempotency_key=idem,
                                      now=r.now)
    if name == "cancel_listing":
        return market.cancel_listing(session, listing_id=r.pick(r.listings, args[0]), actor=A)
    assert name == "wait"
    return market.expire_due(session, now=r.now + timedelta(minutes=args[0]))


def outcome(session: Session, key: RegistryKey, records: Records, op: tuple[Any, ...]
            ) -> tuple[Any, ...]:
    """What the caller sees: the result as canonical JSON, or the refusal as it is shown."""
    try:
        return ("done", canonical_json(run(session, key, records, op)))
    except QingluError as refused:
        return ("refused", type(refused).__name__, refused.code, refused.status, refused.zh,
                refused.en)


def note(records: Records, op: tuple[Any, ...], answer: tuple[Any, ...]) -> None:
    """Remember what an operation made, and let time pass, for the operations after it."""
    if answer[0] != "done":
        return
    result = json.loads(answer[1])
    name = op[0]
    if name == "transfer":
        (source, to), product, quantity = op[1], op[2], op[3]
        records.last_transfer = (source, to, product, quantity)
    elif name == "hold":
        records.holds.append(result["id"])
    elif name == "list":
        records.listings.append(result["id"])
        records.holds.append(result["hold_id"])
    elif name == "order" and result["id"] not in records.orders:
        records.orders.append(result["id"])
    elif name == "wait":
        records.now += timedelta(minutes=op[1])


def rows(session: Session, table: str) -> list[dict[str, Any]]:
    found = session.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings().all()
    return [{k: v for k, v in row.items() if k not in CLOCK_COLUMNS} for row in found]


def entries(session: Session) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(text(
        "SELECT sequence, recorded_at, actor, kind, idempotency_key, body, prev_hash, hash "
        "FROM ledger_entries ORDER BY sequence"))]


def assert_same_ledger(server: Session, python: Session) -> None:
    for table in TABLES:
        assert rows(server, table) == rows(python, table), table
    # The public totals (kept by triggers, in as many rows as each path's statements)
    # add up the same, and to what the blocks hold.
    assert stats.kept_totals(server) == stats.kept_totals(python) == stats.totals_from_blocks(
        server)
    assert verify_chain(server) is None and verify_chain(python) is None
    server_entries, python_entries = entries(server), entries(python)
    # Each path's own instants differ; hashed at the server path's instants, the Python
    # path's entries give the server path's hashes.
    prev = GENESIS_HASH
    for ours, theirs in zip(server_entries, python_entries, strict=True):
        sequence, recorded_at, actor, kind, idem, body, _prev, digest = theirs
        assert RECORDED_AT.match(ours[1]) and RECORDED_AT.match(recorded_at)
        prev = entry_hash(sequence, ours[1], actor, kind, idem, body, prev)
        assert prev == ours[7], sequence


def examples(sequences: list[list[tuple[Any, ...]]]) -> Callable[[Any], Any]:
    def decorate(test: Any) -> Any:
        for ops in reversed(sequences):
            test = example(ops=ops)(test)
        return test

    return decorate


def test_server_path_and_python_path_write_the_same_ledger(pg_admin_url: str) -> None:
    databases = ParityDatabases(pg_admin_url, build_world)
    key = load_or_create_key()
    try:

        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(ops=st.lists(operations, min_size=4, max_size=24))
        @examples(EXAMPLES)
        def same_ledger(ops: list[tuple[Any, ...]]) -> None:
            databases.reset()
            with make_session_factory(databases.server)() as server, \
                    make_session_factory(databases.python)() as python:
                records = Records(databases.world)
                for op in ops:
                    answer = outcome(server, key, records, op)
                    assert outcome(python, key, records, op) == answer, op
                    note(records, op, answer)
                assert_same_ledger(server, python)

        same_ledger()
    finally:
        databases.close()
