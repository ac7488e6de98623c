"""Listings and orders. Quantities are integers of the product's base units; prices
and amounts are CNY as Decimal (Numeric), never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base

LISTING_STATUSES = ("active", "sold", "cancelled", "expired")
ORDER_STATUSES = ("pending", "settled", "expired", "cancelled")
MONEY = Numeric(18, 2)
PRICE = Numeric(18, 4)


class Listing(Base):
    """Units for sale from one account; the listed units sit in escrow under `hold_id`.

    While a listing is active, hold.quantity = remaining + the pending orders' quantity:
    an order reserves part of `remaining`, payment settles it out of the hold, expiry
    gives it back to `remaining`, and closing the listing releases `remaining`."""

    __tablename__ = "listings"
    __table_args__ = (Index("ix_listings_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="listing")  # listing | negotiated
    seller_account: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    buyer_account: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    product: Mapped[str] = mapped_column(ForeignKey("products.code"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    min_lot: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal] = mapped_column(PRICE)  # CNY per unit of the product (e.g. per t)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="active")
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Order(Base):
    """A purchase against a listing: reserved, then settled on payment, or expired."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    buyer_account: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[Decimal] = mapped_column(PRICE)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    fee: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payment_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    serials: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list once settled
    voucher_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    entry_sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
