"""Reading uploaded tables safely: Excel workbooks checked before they are unpacked, CSV
text in UTF-8 or the GBK family, and every bad file refused in one line (InvalidInput),
never a traceback.

An .xlsx file is a zip archive: 857 KB can unpack to 246 MB (a zip bomb) and its XML
can define entities that expand without end (billion laughs). The archive's directory
says how large each member unpacks, so that is checked first, before anything is
inflated; openpyxl parses the XML with defusedxml, which refuses entity definitions."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from qinglu.core.errors import InvalidInput, reading

MAX_UNPACKED_BYTES = 64 << 20  # what the whole workbook may unpack to
MAX_RATIO = 200  # unpacked : packed, per member (ordinary sheets stay under 20)
MAX_ROWS = 200_000


def _refuse(zh: str, en: str) -> InvalidInput:
    return InvalidInput(f"无法读取 Excel 文件：{zh}", f"cannot read the Excel file: {en}")


def _one_line(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200]


def check_workbook(content: bytes) -> None:
    """Refuse a workbook whose archive would unpack too large, before unpacking it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _refuse("不是 xlsx（zip）文件", "not an xlsx (zip) file") from None
    with archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > MAX_UNPACKED_BYTES:
            raise _refuse(f"解压后 {total >> 20} MiB，超过上限 {MAX_UNPACKED_BYTES >> 20} MiB",
                          f"it unpacks to {total >> 20} MiB, over the "
                          f"{MAX_UNPACKED_BYTES >> 20} MiB limit")
        for member in members:
            if member.file_size > MAX_RATIO * max(member.compress_size, 1) + (1 << 20):
                raise _refuse(f"{member.filename} 压缩比异常", f"{member.filename} is "
                              "compressed beyond any real sheet (a zip bomb?)")


def workbook_rows(source: bytes | Path) -> list[tuple[Any, ...]]:
    """The first sheet's rows (values, as openpyxl reads them), at most MAX_ROWS."""
    from openpyxl import load_workbook

    content = source.read_bytes() if isinstance(source, Path) else source
    check_workbook(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl and defusedxml raise many kinds for a bad file
        raise _refuse(_one_line(exc), _one_line(exc)) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        rows: list[tuple[Any, ...]] = []
        for values in (sheet.iter_rows(values_only=True) if sheet is not None else ()):
            rows.append(tuple(values))
            if len(rows) > MAX_ROWS:
                raise _refuse(f"超过 {MAX_ROWS} 行", f"more than {MAX_ROWS} rows")
        return rows
    except InvalidInput:
        raise
    except Exception as exc:  # a broken sheet inside a sound archive
        raise _refuse(_one_line(exc), _one_line(exc)) from None
    finally:
        book.close()


def decode_table_text(raw: bytes) -> str:
    """CSV text: UTF-8 (with or without BOM), else GB18030 (which covers GBK and GB2312,
    as Excel saves CSV on Chinese Windows)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:  # pragma: no cover - gb18030 decodes almost anything
        raise InvalidInput("无法识别文件编码（请用 UTF-8 或 GBK）",
                           "cannot decode the file (use UTF-8 or GBK)") from None


def table_file_text(path: Path) -> str:
    """A CSV file's text, UTF-8 or GBK as Excel saves it; a file that cannot be read is
    refused naming it."""
    with reading(path.name):
        return decode_table_text(path.read_bytes())


def text_rows(filename: str, content: bytes) -> list[list[str]]:
    """A CSV or Excel file as rows of text, blank rows dropped; the first row is the
    header. An Excel date cell reads as its month (YYYY-MM), a whole number without
    its ".0"."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        rows = [["" if value is None else _cell_text(value) for value in values]
                for values in workbook_rows(content)]
    else:
        try:
            rows = list(csv.reader(io.StringIO(decode_table_text(content))))
        except csv.Error as exc:  # e.g. a field past csv's size limit: not a table
            raise InvalidInput(f"{filename} 不是可读的 CSV 表格：{exc}",
                               f"{filename} is not a readable CSV table: {exc}") from None
    return [row for row in rows if any(cell.strip() for cell in row)]


def _cell_text(value: Any) -> str:
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)
