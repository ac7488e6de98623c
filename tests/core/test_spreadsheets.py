"""Uploaded tables: an Excel zip bomb or billion-laughs workbook is refused in one line
within seconds, before it is unpacked; GBK CSVs are read."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from qinglu.core.errors import InvalidInput
from qinglu.core.spreadsheets import MAX_UNPACKED_BYTES, decode_table_text, workbook_rows
from qinglu.forestry.trees import read_rows


def workbook(*rows: tuple[object, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_member(content: bytes, name: str, data: bytes) -> bytes:
    """The workbook with one member replaced (or added)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename != name:
                target.writestr(member, source.read(member.filename))
        target.writestr(name, data)
    return out.getvalue()


def test_a_sound_workbook_reads() -> None:
    assert workbook_rows(workbook(("编号", "树种"), (1, "银杏"))) == [("编号", "树种"),
                                                                      (1, "银杏")]


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = with_member(workbook(("a",)), "xl/worksheets/sheet1.xml",
                       b"\0" * (MAX_UNPACKED_BYTES + (1 << 20)))
    assert len(bomb) < 1 << 20  # under a megabyte on the wire
    began = time.monotonic()
    with pytest.raises(InvalidInput, match="limit|上限"):
        workbook_rows(bomb)
    assert time.monotonic() - began < 5


def test_a_member_compressed_beyond_any_sheet_is_refused() -> None:
    dense = with_member(workbook(("a",)), "xl/worksheets/sheet1.xml", b"\0" * (8 << 20))
    with pytest.raises(InvalidInput, match="zip bomb"):
        workbook_rows(dense)


def test_billion_laughs_and_garbage_are_one_line_refusals() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c>'
              b'</row></sheetData></worksheet>')
    for bad in (with_member(workbook(("a",)), "xl/worksheets/sheet1.xml", laughs),
                b"not a zip at all"):
        with pytest.raises(InvalidInput) as refused:
            workbook_rows(bad)
        assert "\n" not in refused.value.message


def test_gbk_csv_is_read(tmp_path: Path) -> None:
    text = "编号,树种,胸径\n1,银杏,32\n"
    assert decode_table_text(text.encode("gbk")) == text
    path = tmp_path / "trees.csv"
    path.write_bytes(text.encode("gbk"))
    assert read_rows(path) == [{"编号": "1", "树种": "银杏", "胸径": "32"}]
