"""Damage cases: an authority's case against a defendant, walked step by step."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base

CASE_STEPS = ("opened", "accounted", "agreed", "paid", "retired", "certified", "closed")
AUTHORITY_KINDS = ("procuratorate", "court", "forestry_bureau", "environment_bureau")
CASE_KINDS = ("criminal_public_interest", "civil", "administrative")


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    authority_holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"), index=True)
    authority_kind: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    defendant_holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id"))
    incident_date: Mapped[date] = mapped_column(Date)
    region: Mapped[str] = mapped_column(String(6))
    place: Mapped[str] = mapped_column(Text)
    incident: Mapped[dict[str, Any]] = mapped_column(JSON)  # area, polygon, vegetation
    status: Mapped[str] = mapped_column(String(16), default="opened")
    obligation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # base units
    accounting: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    agreement: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # An external accounting report the authority recorded, until a verifier approves it.
    pending_report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"), nullable=True)
    payment_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    retirement_id: Mapped[int | None] = mapped_column(
        ForeignKey("retirements.id"), nullable=True
    )
    certificate_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    voucher_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # GeoJSON geometry of the burned area (CGCS2000/WGS84 lon/lat), for reversals.
    burned_polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
