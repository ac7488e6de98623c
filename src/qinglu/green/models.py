"""Green electricity tables: power projects (with their national filing code), the
generation of each project and month with the certificates it gave, and green-power
claims. Certificates themselves are registry units (product GEC): issuances, blocks and
retirements live in the registry's tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base


class PowerProject(Base):
    """A registered (建档立卡) renewable power project and the registry project its
    certificates are issued under; `carried_kwh` is the remainder below one certificate
    carried into the next month."""

    __tablename__ = "green_power_projects"
    __table_args__ = (CheckConstraint("carried_kwh >= 0 AND carried_kwh < 1000",
                                      name="carried"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filing_code: Mapped[str] = mapped_column(String(17), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    technology: Mapped[str] = mapped_column(String(16))
    commissioned: Mapped[date] = mapped_column(Date)
    self_consumed: Mapped[bool] = mapped_column(Boolean, default=False)
    carried_kwh: Mapped[int] = mapped_column(BigInteger, default=0)
    last_month: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GenerationMonth(Base):
    """One project's generation in one month, and what it gave: certificates, the kWh
    carried in from the month before and out to the next, the registry issuance."""

    __tablename__ = "green_generation"
    __table_args__ = (
        UniqueConstraint("power_project_id", "month"),
        CheckConstraint("kwh >= 0", name="kwh"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    power_project_id: Mapped[int] = mapped_column(ForeignKey("green_power_projects.id"))
    month: Mapped[date] = mapped_column(Date)
    kwh: Mapped[int] = mapped_column(BigInteger)
    carried_in: Mapped[int] = mapped_column(BigInteger)
    certificates: Mapped[int] = mapped_column(BigInteger)
    carried_out: Mapped[int] = mapped_column(BigInteger)
    issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GreenClaim(Base):
    """A consumer's declared consumption for a period and the certificates retired
    (核销) for it, with the CO2 the method gives and, beside it, a figure reported
    elsewhere (never used as the method's)."""

    __tablename__ = "green_claims"
    __table_args__ = (
        UniqueConstraint("consumer", "period_start", "period_end"),
        CheckConstraint("consumption_kwh > 0", name="consumption"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    consumer: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    consumption_kwh: Mapped[int] = mapped_column(BigInteger)
    certificates: Mapped[int] = mapped_column(BigInteger)
    green_share: Mapped[str] = mapped_column(String(16))  # a decimal fraction, exact text
    co2_t: Mapped[str] = mapped_column(String(32))
    factor_kg_per_kwh: Mapped[str] = mapped_column(String(16))
    factor_name: Mapped[str] = mapped_column(String(300))
    factor_source: Mapped[str] = mapped_column(Text)
    reported_co2_t: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reported_source: Mapped[str | None] = mapped_column(Text, nullable=True)
    retirement_id: Mapped[int] = mapped_column(ForeignKey("retirements.id"), unique=True)
    certificate_number: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
