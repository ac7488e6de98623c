"""Issued documents: certificates and vouchers, with the facts exactly as signed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qinglu.core.models import utcnow
from qinglu.db.base import Base

DOCUMENT_KINDS = {
    "carbon_neutral": ("CN", "碳中和证书", "Carbon-Neutral Certificate"),
    "voucher": ("TV", "碳减排量交易凭证", "Carbon Reduction Transaction Voucher"),
    "retirement": ("RC", "注销证明", "Retirement Certificate"),
    "trade": ("TD", "交易凭证", "Trade Voucher"),
}


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # A retirement's certificate, or a market trade's voucher (one of the two).
    retirement_id: Mapped[int | None] = mapped_column(ForeignKey("retirements.id"), index=True,
                                                      nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True,
                                                 nullable=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(120))
    key_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IssuedFile(Base):
    """A PDF the registry handed out: its SHA-256, so any later copy can be matched
    byte for byte (a signed PDF differs each time it is made: its signing time)."""

    __tablename__ = "issued_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
