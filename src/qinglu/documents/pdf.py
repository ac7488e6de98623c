"""PDFs in Chinese with English beside it: certificate, voucher, accounting report.

fpdf2 embeds a subset of the Noto CJK font, so the text renders on any viewer and
extracts back as text. Each signed document also carries its number and signed
payload in the PDF's keywords, so verification can read a PDF without OCR.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from qinglu.documents.fonts import find_cjk_font
from qinglu.documents.qr import qr_png

GREEN = (47, 111, 78)
KEYWORD_PREFIX = "qinglu-document"


@dataclass(frozen=True)
class SignedDoc:
    """What every certificate and voucher shows, plus its signed payload for the QR."""

    number: str
    title_zh: str
    title_en: str
    rows: Sequence[tuple[str, str]]  # (label "中文 English", value)
    issuer: str
    verify_url: str
    payload: str
    serials: Sequence[str] = field(default_factory=tuple)
    qr: segno.QRCode | None = None  # the printed code; else one of verify_url
    checkpoint: str = ""  # the ledger checkpoint the document was issued under


@dataclass(frozen=True)
class ReportDoc:
    """An accounting report: facts, a parameter table and a per-gas table."""

    number: str
    title_zh: str
    title_en: str
    facts: Sequence[tuple[str, str]]
    parameters: Sequence[tuple[str, str, str]]  # (name, value unit, source)
    emissions: Sequence[tuple[str, str]]  # (gas, tonnes)
    totals: Sequence[tuple[str, str]]
    signatures: Sequence[tuple[str, str]]  # (role, name)
    emissions_heading: str = "排放量 Emissions (t)"


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("cjk", size=7.5)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.footer_text, align="C")


def _new_pdf(footer: str) -> _Pdf:
    font = find_cjk_font()
    pdf = _Pdf(format="A4")
    pdf.footer_text = footer
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.collection_index)
    pdf.add_page()
    return pdf


def _title(pdf: FPDF, zh: str, en: str, number: str) -> None:
    pdf.set_draw_color(*GREEN)
    pdf.set_line_width(0.8)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_text_color(*GREEN)
    pdf.set_font("cjk", size=24)
    pdf.cell(0, 14, zh, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 7, en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(60, 60, 60)
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 7, f"编号 No. {number}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_text_color(20, 20, 20)


def _table(pdf: FPDF, rows: Sequence[tuple[str, str]], label_width: float = 52) -> None:
    pdf.set_font("cjk", size=10)
    pdf.set_draw_color(200, 215, 205)
    pdf.set_line_width(0.2)
    with pdf.table(col_widths=(label_width, pdf.epw - label_width), line_height=6.2,
                   first_row_as_headings=False, text_align="LEFT") as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)


def render_signed(doc: SignedDoc) -> bytes:
    """A certificate or voucher: facts, serial ranges, QR with the verification URL."""
    pdf = _new_pdf(f"{doc.issuer} · 扫码或访问核验 verify: {doc.verify_url.split('?')[0]}")
    pdf.set_keywords(f"{KEYWORD_PREFIX} {doc.number} {doc.payload}")
    pdf.set_title(f"{doc.title_zh} {doc.title_en} {doc.number}")
    _title(pdf, doc.title_zh, doc.title_en, doc.number)
    serial_rows = [("单位序列号 Serial numbers", "\n".join(doc.serials))] if doc.serials else []
    _table(pdf, [*doc.rows, *serial_rows])
    pdf.ln(6)
    y = max(pdf.get_y(), pdf.h - 78)
    pdf.image(io.BytesIO(qr_png(doc.qr or doc.verify_url)), x=pdf.w - 18 - 42, y=y, w=42, h=42)
    pdf.set_xy(18, y + 4)
    pdf.set_font("cjk", size=10.5)
    pdf.multi_cell(pdf.epw - 48, 6, f"签发机构 Issued by：{doc.issuer}",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=8.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(pdf.epw - 48, 5,
                   "本文件由青绿登记簿以其证书签名（PAdES），二维码所载内容以 Ed25519 签名，"
                   "可离线核验；扫描二维码、上传本文件或在验证页输入编号即可核验。\n"
                   "This file is signed by the Qinglu registry's certificate (PAdES) and the "
                   "QR code's content with Ed25519, checkable offline. Scan the QR code, "
                   "upload this file or enter the number on the verification page.")
    if doc.checkpoint:
        pdf.set_font("cjk", size=7)
        pdf.multi_cell(pdf.epw - 48, 4, f"账本检查点 Ledger checkpoint: {doc.checkpoint}")
    return bytes(pdf.output())


def render_report(doc: ReportDoc) -> bytes:
    """The air-pollutant emission accounting report (大气污染物排放核算报告)."""
    pdf = _new_pdf(f"青绿 Qinglu · {doc.number}")
    pdf.set_title(f"{doc.title_zh} {doc.number}")
    _title(pdf, doc.title_zh, doc.title_en, doc.number)
    _table(pdf, doc.facts)
    for heading, rows in ((doc.emissions_heading, doc.emissions),
                          ("合计 Totals", doc.totals)):
        pdf.ln(3)
        pdf.set_font("cjk", size=12)
        pdf.cell(0, 8, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _table(pdf, rows)
    pdf.ln(3)
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 8, "参数及来源 Parameters and sources", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=8.5)
    # No bold face is embedded, so headings are set apart by colour, not weight.
    headings = FontFace(emphasis="", fill_color=(232, 242, 236))
    with pdf.table(col_widths=(30, 30, pdf.epw - 60), line_height=4.8,
                   text_align="LEFT", headings_style=headings) as table:
        header = table.row()
        for text in ("参数 Parameter", "数值 Value", "来源 Source"):
            header.cell(text)
        for name, value, source in doc.parameters:
            row = table.row()
            for text in (name, value, source):
                row.cell(text)
    pdf.ln(5)
    _table(pdf, doc.signatures)
    return bytes(pdf.output())


def extract_payload(pdf_bytes: bytes) -> tuple[str, str]:
    """The (number, signed payload) a Qinglu PDF carries in its keywords."""
    from qinglu.documents.signing import InvalidPayload

    try:
        metadata = PdfReader(io.BytesIO(pdf_bytes)).metadata
        keywords = metadata.get("/Keywords", "") if metadata is not None else ""
    except (PdfReadError, ValueError, OSError):
        raise InvalidPayload("不是有效的 PDF", "not a readable PDF") from None
    parts = str(keywords).split()
    if len(parts) != 3 or parts[0] != KEYWORD_PREFIX:
        raise InvalidPayload("此 PDF 不是青绿签发的凭证", "this PDF is not a Qinglu document")
    return parts[1], parts[2]
