"""Registered forest parcels (小班), stored in CGCS2000 longitude/latitude."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.db.base import Base
from qinglu.registry.models import utcnow


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
