"""Registered forest parcels (小班), stored in CGCS2000 longitude/latitude."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base


class Parcel(Base):
    __tablename__ = "parcels"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_parcels_project_number"),
        Index("ix_parcels_bbox", "minx", "maxx", "miny", "maxy"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))  # 林班-小班
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    village: Mapped[str | None] = mapped_column(String(200), nullable=True)
    species: Mapped[str] = mapped_column(String(32))
    age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Areas and volumes are survey measurements, not ledger quantities.
    area_ha: Mapped[float] = mapped_column(Float)
    volume_m3_per_mu: Mapped[float] = mapped_column(Float)
    geometry_wkt: Mapped[str] = mapped_column(Text)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


REPORT_STATUSES = ("submitted", "approved", "rejected", "issued")


class MonitoringReport(Base):
    """One monitoring period of a project: measured volumes, the method's result, and
    the verifier's decision; issued once, into the owner's account and the buffer."""

    __tablename__ = "monitoring_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    risk_class: Mapped[str] = mapped_column(String(8))
    # Method inputs (measured volumes per parcel, baseline, leakage, deduction, any
    # override parameters) and its full result, so the figure can be re-checked.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    quantity: Mapped[int] = mapped_column(BigInteger)  # issuable base units (0.01 tCO2e)
    buffer_quantity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    reasons: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    verifier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    owner_issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"),
                                                          nullable=True)
    buffer_issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"),
                                                           nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reversal(Base):
    """Carbon lost from a project's parcels in a case's burned area, cancelled from the
    buffer; a shortfall (buffer too small) is recorded, never dropped."""

    __tablename__ = "reversals"
    __table_args__ = (UniqueConstraint("case_id", "project_id", name="uq_reversals_case_project"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    lost: Mapped[int] = mapped_column(BigInteger)  # base units, rounded up
    cancelled: Mapped[int] = mapped_column(BigInteger)
    shortfall: Mapped[int] = mapped_column(BigInteger)
    cancellation_id: Mapped[int | None] = mapped_column(ForeignKey("cancellations.id"),
                                                        nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # per parcel: areas, share, stock
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tree(Base):
    """A single registered tree (单株碳汇): a point, its species and measurements."""

    __tablename__ = "trees"
    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_trees_project_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    species: Mapped[str] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    dbh_cm: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float)
    photo_ref: Mapped[str | None] = mapped_column(String(500), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The household (a holder) whose account receives the tree's units (migration 0010).
    owner_holder_id: Mapped[int | None] = mapped_column(ForeignKey("holders.id"), nullable=True,
                                                        index=True)
    # The year of the measurement dbh_cm/height_m hold (carried forward on each issuance).
    measured_year: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TreeYear(Base):
    """One tree's sink for one year, issued once to its household (a tree-year)."""

    __tablename__ = "tree_years"
    __table_args__ = (UniqueConstraint("tree_id", "year", name="uq_tree_years_tree_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_id: Mapped[int] = mapped_column(ForeignKey("trees.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    dbh_start: Mapped[float] = mapped_column(Float)
    height_start: Mapped[float] = mapped_column(Float)
    dbh_end: Mapped[float] = mapped_column(Float)
    height_end: Mapped[float] = mapped_column(Float)
    sink_units: Mapped[int] = mapped_column(BigInteger)  # 0.01 tCO2e, rounded down
    owner_units: Mapped[int] = mapped_column(BigInteger)
    buffer_units: Mapped[int] = mapped_column(BigInteger)
    owner_issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"),
                                                          nullable=True)
    buffer_issuance_id: Mapped[int | None] = mapped_column(ForeignKey("issuances.id"),
                                                           nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the method's row and parameters
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
