"""Basins, their cross-boundary sections and parties, the agreements and rules that
govern them, monitoring data by month (in versions), monthly statements (assessments)
and yearly settlements (in versions).

Measured figures are whole numbers of their base units (methods/basin_units.py):
concentrations in 0.0001 mg/L, volumes in m³, flows in 0.001 m³/s; money in fen.
A correction never edits a row: it adds the next version and marks the old one no
longer current, so every statement keeps pointing at the rows it was made from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base

SECTION_KINDS = ("quality", "quantity", "both")
PARTY_LEVELS = ("province", "prefecture", "county")


class Basin(Base):
    __tablename__ = "basins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BasinParty(Base):
    """A government that pays or is paid: a province, prefecture or county (GB/T 2260)."""

    __tablename__ = "basin_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))


class BasinAgreement(Base):
    """An agreement (or a province's rules) with its validity and source; `example` marks
    demo agreements whose figures are illustrations, not the agreement's own."""

    __tablename__ = "basin_agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    basin_id: Mapped[int] = mapped_column(ForeignKey("basins.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(Text)
    example: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BasinSection(Base):
    """A monitoring cross-section: who is upstream and downstream of it, where it is."""

    __tablename__ = "basin_sections"
    __table_args__ = (UniqueConstraint("basin_id", "code", name="uq_basin_sections_basin_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    basin_id: Mapped[int] = mapped_column(ForeignKey("basins.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    waterbody: Mapped[str] = mapped_column(String(8), default="river")
    upstream_party_id: Mapped[int] = mapped_column(ForeignKey("basin_parties.id"))
    downstream_party_id: Mapped[int] = mapped_column(ForeignKey("basin_parties.id"))
    lon: Mapped[Any] = mapped_column(Numeric(10, 6), nullable=True)
    lat: Mapped[Any] = mapped_column(Numeric(10, 6), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order along the river
    example: Mapped[bool] = mapped_column(Boolean, default=False)


class BasinRule(Base):
    """A rule of an agreement as data (methods/basin.py parses it): monthly rules apply
    to one section, yearly ones (joint fund) may name several in their clauses."""

    __tablename__ = "basin_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("basin_agreements.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("basin_sections.id"), index=True,
                                                   nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)


class MonitoringImport(Base):
    __tablename__ = "basin_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    basin_id: Mapped[int] = mapped_column(ForeignKey("basins.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    correction: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitoringRow(Base):
    """One section's month, one version: the latest version is `current`."""

    __tablename__ = "basin_monitoring"
    __table_args__ = (
        UniqueConstraint("section_id", "period", "version", name="uq_basin_monitoring_version"),
        Index("ix_basin_monitoring_current", "section_id", "period", "current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("basin_sections.id"))
    period: Mapped[date] = mapped_column(Date)  # the first day of the month
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    codmn: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    nh3n: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tn: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    volume: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    min_flow: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    flow: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("basin_imports.id"), index=True)
    source_row: Mapped[int] = mapped_column(Integer)  # the line of the imported file


class Assessment(Base):
    """A section's monthly statement, one version: the lines each rule gave, the money
    they add up to, and the signed facts; a newer version supersedes it."""

    __tablename__ = "basin_assessments"
    __table_args__ = (
        UniqueConstraint("section_id", "period", "version", name="uq_basin_assessments_version"),
        Index("ix_basin_assessments_current", "section_id", "period", "current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("basin_sections.id"))
    period: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    monitoring_id: Mapped[int] = mapped_column(ForeignKey("basin_monitoring.id"), index=True)
    to_upstream: Mapped[int] = mapped_column(BigInteger)  # fen; < 0: upstream pays
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(120))
    key_id: Mapped[str] = mapped_column(String(32))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("basin_assessments.id"),
                                                      nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Settlement(Base):
    """A year's settlement between two parties (party_a has the lower region code) of
    one basin, one version: what each paid the other and the net; or a party's position
    in a joint fund (party_b empty, `agreement_id` the fund's agreement)."""

    __tablename__ = "basin_settlements"
    __table_args__ = (
        Index("ix_basin_settlements_pair", "basin_id", "year", "party_a_id", "party_b_id",
              "agreement_id", "current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    basin_id: Mapped[int] = mapped_column(ForeignKey("basins.id"))
    year: Mapped[int] = mapped_column(Integer)
    party_a_id: Mapped[int] = mapped_column(ForeignKey("basin_parties.id"))
    party_b_id: Mapped[int | None] = mapped_column(ForeignKey("basin_parties.id"),
                                                   nullable=True)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("basin_agreements.id"),
                                                     nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    a_to_b: Mapped[int] = mapped_column(BigInteger)  # fen
    b_to_a: Mapped[int] = mapped_column(BigInteger)  # fen
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(120))
    key_id: Mapped[str] = mapped_column(String(32))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("basin_settlements.id"),
                                                      nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
