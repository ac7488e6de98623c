"""Registry tables. Quantities and serials are integers of base units (BIGINT)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base

HOLDER_KINDS = ("org", "person", "registry")
ACCOUNT_KINDS = ("holding", "escrow", "retirement", "cancellation", "buffer")
BLOCK_STATES = ("held", "escrow", "retired", "cancelled")
HOLD_STATES = ("pending", "settled", "released")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Holder(Base):
    __tablename__ = "holders"
    __table_args__ = (CheckConstraint(_in("kind", HOLDER_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    id_number: Mapped[str] = mapped_column(String(32), unique=True)
    region: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


PRODUCT_SCOPES = ("county", "prefecture", "province", "nation")
# How many leading digits of a GB/T 2260 code a scope keeps: a prefecture's units move
# only between holders whose codes share the issuing project's first four digits.
SCOPE_DIGITS = {"county": 6, "prefecture": 4, "province": 2, "nation": 0}


class Product(Base):
    """A product is a row: its names, unit and base unit (10^-decimals of the unit), its
    rules (tradable, months of validity from issuance, scope of trade) and the methods
    that may issue it (none listed: any). `next_serial` is the first serial not yet
    issued. An operator adds one without a code change (registry.actions.add_product)."""

    __tablename__ = "products"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # Chinese name
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(16))
    decimals: Mapped[int] = mapped_column(Integer)
    tradable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    validity_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scope: Mapped[str] = mapped_column(String(16), default="nation", server_default="nation")
    methods: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    next_serial: Mapped[int] = mapped_column(BigInteger, default=1)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    region: Mapped[str] = mapped_column(String(6), index=True)
    methodology: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="registered")
    owner_holder_id: Mapped[int | None] = mapped_column(ForeignKey("holders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Issuance(Base):
    __tablename__ = "issuances"
    __table_args__ = (
        CheckConstraint("serial_end >= serial_start", name="range"),
        CheckConstraint("quantity = serial_end - serial_start + 1", name="quantity"),
        # A project's issuances in the order they were made: its page reads them a page
        # at a time, and the project list its latest few, without sorting them all.
        Index("ix_issuances_project_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    vintage: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    # The product's rules for these units, set at issuance: units that may not be traded
    # (a GEC of self-consumed power or old hydro) are retired or cancelled, never
    # transferred, held or sold; after `valid_to` (a GEC's validity) none of them moves.
    tradable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The GB/T 2260 prefix a holder's region must start with to receive these units (a
    # prefecture ticket: the project's first four digits); None: anywhere.
    scope_region: Mapped[str | None] = mapped_column(String(6), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Hold(Base):
    """Units set aside in escrow for a named purpose, later settled or released."""

    __tablename__ = "holds"
    __table_args__ = (CheckConstraint(_in("status", HOLD_STATES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    settled_to: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Retirement(Base):
    __tablename__ = "retirements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    beneficiary: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    case_ref: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    serials: Mapped[list[str]] = mapped_column(JSON)
    # The ledger entry that recorded this retirement, so a check need not scan the ledger.
    entry_sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Cancellation(Base):
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    serials: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UnitBlock(Base):
    """A contiguous range of one issuance's serials, owned by exactly one account.

    The blocks of an issuance tile its range; PostgreSQL refuses overlaps with an
    exclusion constraint (added by hand in the migration), code checks everywhere.
    """

    __tablename__ = "unit_blocks"
    __table_args__ = (
        CheckConstraint("serial_end >= serial_start", name="range"),
        CheckConstraint(_in("state", BLOCK_STATES), name="state"),
        # In the order units leave an account (registry/blocks.py take, qinglu_move_units):
        # a large account's first blocks are read without sorting all of them.
        Index("ix_unit_blocks_account_state", "account_id", "state", "issuance_id",
              "serial_start"),
        Index("ix_unit_blocks_issuance_start", "issuance_id", "serial_start"),
        Index("ix_unit_blocks_issuance_end", "issuance_id", "serial_end"),
        # Only the blocks in escrow or retired have these; the rest (nearly all) are
        # left out of the indexes (migration 0024).
        Index("ix_unit_blocks_hold_id", "hold_id", postgresql_where=text("hold_id IS NOT NULL"),
              sqlite_where=text("hold_id IS NOT NULL")),
        Index("ix_unit_blocks_retirement_id", "retirement_id",
              postgresql_where=text("retirement_id IS NOT NULL"),
              sqlite_where=text("retirement_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("issuances.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="held")
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"), nullable=True)
    retirement_id: Mapped[int | None] = mapped_column(ForeignKey("retirements.id"), nullable=True)
    cancellation_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellations.id"), nullable=True
    )

    @property
    def quantity(self) -> int:
        return self.serial_end - self.serial_start + 1


TOTAL_STATES = ("issued", "escrow", "retired", "cancelled")


class UnitTotal(Base):
    """The public totals as they move: units issued, and units entering (+) or leaving
    (-) escrow, retirement or cancellation, by product and county. Rows are appended by
    triggers on `issuances` and `unit_blocks` (migration 0023), so every write path, the
    server-side functions included, keeps them; the sum of a group is its total, and
    held = issued - escrow - retired - cancelled. A transfer (held to held) writes none.
    `registry.compact_totals` folds the rows into one a group from time to time."""

    __tablename__ = "unit_totals"
    __table_args__ = (CheckConstraint(_in("state", TOTAL_STATES), name="state"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    product: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(16))
    units: Mapped[int] = mapped_column(BigInteger)
