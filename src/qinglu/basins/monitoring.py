"""Monitoring data: a CSV or Excel file of sections' months, read whole, checked row by
row, and written all or nothing.

A file has a `section` and a `month` (YYYY-MM) column and any of `codmn`, `nh3n`,
`tp`, `tn` (concentrations), `volume` (the month's total volume), `min_flow` (the
month's minimum daily release flow) and `flow` (mean flow). Chinese headers are read
too (断面, 月份, 高锰酸盐指数, 氨氮, 总磷, 总氮, 月水量, 最小下泄流量, 流量). Every
figure needs its unit: in the header (`tp [mg/L]`, `月水量(万m3)`) or in the cell
(`0.05 mg/L`); a bare number under a header without a unit is refused, as is a unit
of the wrong kind (a volume in m3/s). A refused file names each bad row and why, and
nothing of it is written.

A month already recorded with other figures is a correction: it is accepted only when
the import says so (`correction` with a reason), and it adds the next version of that
month; the old version stays, as do the statements made from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.basins.models import BasinSection, MonitoringImport, MonitoringRow
from qinglu.core.errors import FileRefused, InvalidInput
from qinglu.core.spreadsheets import text_rows
from qinglu.methods.basin_units import CONCENTRATION, FLOW, VOLUME, Dimension, to_base

MAX_ROWS = 200_000
MAX_PROBLEMS = 200
FIGURES: dict[str, Dimension] = {"codmn": CONCENTRATION, "nh3n": CONCENTRATION,
                                 "tp": CONCENTRATION, "tn": CONCENTRATION, "volume": VOLUME,
                                 "min_flow": FLOW, "flow": FLOW}
HEADERS = {
    "section": ("section", "section_code", "断面", "断面编码", "断面代码"),
    "month": ("month", "period", "月份", "月"),
    "codmn": ("codmn", "cod_mn", "高锰酸盐指数"),
    "nh3n": ("nh3n", "nh3-n", "nh3_n", "氨氮"),
    "tp": ("tp", "总磷"),
    "tn": ("tn", "总氮"),
    "volume": ("volume", "monthly_volume", "月水量", "月径流量", "水量"),
    "min_flow": ("min_flow", "minimum_flow", "最小下泄流量", "最小流量", "生态流量"),
    "flow": ("flow", "mean_flow", "流量", "平均流量"),
}
QUALITY_FIGURES = ("codmn", "nh3n", "tp")
QUANTITY_FIGURES = ("volume", "min_flow")
FIGURE_NAMES = {"codmn": "高锰酸盐指数 CODMn", "nh3n": "氨氮 NH3-N", "tp": "总磷 TP",
                "tn": "总氮 TN", "volume": "月水量 volume", "min_flow": "最小下泄流量 min flow",
                "flow": "流量 flow"}
MISSING_MARKS = {"", "-", "—", "na", "n/a", "nan", "null", "none", "缺测", "/"}
_HEADER = re.compile(r"^\s*([^\[\(（【]+?)\s*(?:[\[\(（【]\s*([^\]\)）】]*)\s*[\]\)）】])?\s*$")
_MONTH = re.compile(r"^\s*(\d{4})[-/年.](\d{1,2})(?:[-/.月]\d{1,2}日?|月)?\s*$")


class MonitoringImportRefused(FileRefused):
    """A monitoring file refused whole; `problems` names each bad row and why."""

    code = "monitoring-import-refused"
    what_zh, what_en = "监测数据导入", "monitoring data"


@dataclass(frozen=True)
class Draft:
    """One checked row of a file, in base units."""

    line: int
    section_id: int
    period: date
    figures: dict[str, int | None]


def read_table(filename: str, content: bytes) -> list[list[str]]:
    """The uploaded file as rows of text (core.spreadsheets: Excel checked before it is
    unpacked, CSV in UTF-8 or GBK), a bad file refused in one line."""
    try:
        return text_rows(filename, content)
    except InvalidInput as exc:
        raise MonitoringImportRefused([("file", exc.message)]) from None


def _columns(header: Sequence[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Column positions by name, each figure column's unit (from the header), problems."""
    positions: dict[str, int] = {}
    units: dict[str, str] = {}
    problems = []
    names = {alias.lower(): name for name, aliases in HEADERS.items() for alias in aliases}
    for index, raw in enumerate(header):
        match = _HEADER.match(raw.replace("\ufeff", ""))
        label = (match.group(1) if match else raw).strip().lower()
        name = names.get(label)
        if name is None:
            problems.append(f"未知列 unknown column {raw!r}")
            continue
        if name in positions:
            problems.append(f"列重复 column repeated: {raw!r}")
        positions[name] = index
        if match and match.group(2):
            units[name] = match.group(2).strip()
    for needed in ("section", "month"):
        if needed not in positions:
            problems.append(f"缺少列 missing column: {needed}")
    return positions, units, problems


def parse_month(text: str) -> date:
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"月份 {text!r} 须为 YYYY-MM", f"month {text!r} must be YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _figure(name: str, cell: str, unit: str | None) -> int | None:
    if cell.strip().lower() in MISSING_MARKS:
        return None
    return to_base(FIGURES[name], cell, unit, what=FIGURE_NAMES[name])


def _check_row(line: int, row: Sequence[str], positions: dict[str, int], units: dict[str, str],
               sections: dict[str, BasinSection], today: date) -> Draft:
    def cell(name: str) -> str:
        index = positions.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    code = cell("section")
    section = sections.get(code)
    if section is None:
        raise InvalidInput(f"未知断面 {code!r}", f"unknown section {code!r}")
    period = parse_month(cell("month"))
    if period > today:
        raise InvalidInput(f"月份 {period:%Y-%m} 尚未到来",
                           f"month {period:%Y-%m} is in the future")
    figures = {name: _figure(name, cell(name), units.get(name))
               for name in FIGURES if name in positions}
    needed = ((QUALITY_FIGURES if section.kind in ("quality", "both") else ())
              + (QUANTITY_FIGURES if section.kind in ("quantity", "both") else ()))
    missing = [FIGURE_NAMES[name] for name in needed if figures.get(name) is None]
    if missing:
        raise InvalidInput(f"断面 {code} 缺少 {', '.join(missing)}（缺测不以零代替）",
                           f"section {code} lacks {', '.join(missing)} (a missing figure "
                           "is never taken as zero)")
    return Draft(line, section.id, period, {name: figures.get(name) for name in FIGURES})


def check_rows(rows: list[list[str]], sections: dict[str, BasinSection], *, today: date,
               progress: Callable[[int, int], None] | None = None
               ) -> tuple[list[Draft], list[tuple[str, str]]]:
    """Every row checked: the drafts of good rows, and (row, reason) for each bad one."""
    if not rows:
        return [], [("file", "文件为空 the file is empty")]
    if len(rows) - 1 > MAX_ROWS:
        return [], [("file", f"行数超过 {MAX_ROWS} more than {MAX_ROWS} rows")]
    positions, units, header_problems = _columns(rows[0])
    if header_problems:
        return [], [("header", problem) for problem in header_problems]
    drafts: list[Draft] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[int, date], int] = {}
    total = len(rows) - 1
    for line, row in enumerate(rows[1:], start=2):
        try:
            draft = _check_row(line, row, positions, units, sections, today)
        except InvalidInput as exc:
            problems.append((f"第{line}行 row {line}", exc.message))
        else:
            key = (draft.section_id, draft.period)
            if key in seen:
                problems.append((f"第{line}行 row {line}",
                                 f"与第{seen[key]}行重复 repeats row {seen[key]}"))
            seen.setdefault(key, line)
            drafts.append(draft)
        if progress is not None and (line - 1) % 500 == 0:
            progress(line - 1, total)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(("…", f"问题过多，仅列前 {MAX_PROBLEMS} 条 / too many problems"))
            break
    if progress is not None:
        progress(total, total)
    return drafts, problems


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class Plan:
    """What an import will write: new months, corrected months (old row, draft), and
    months already recorded with the same figures (left alone)."""

    new: list[Draft]
    corrected: list[tuple[MonitoringRow, Draft]]
    unchanged: list[Draft]


def current_rows(session: Session, keys: Iterable[tuple[int, date]]
                 ) -> dict[tuple[int, date], MonitoringRow]:
    wanted = set(keys)
    if not wanted:
        return {}
    sections = {section for section, _ in wanted}
    rows = session.scalars(select(MonitoringRow).where(
        MonitoringRow.section_id.in_(sections), MonitoringRow.current.is_(True)))
    return {(row.section_id, row.period): row for row in rows
            if (row.section_id, row.period) in wanted}


def figures_of(row: MonitoringRow) -> dict[str, int | None]:
    return {name: getattr(row, name) for name in FIGURES}


def plan(session: Session, drafts: list[Draft], *, correction: bool,
         codes: dict[int, str]) -> Plan:
    """Sort drafts into new, corrected and unchanged months; without `correction`, a month
    already recorded with other figures refuses the file."""
    existing = current_rows(session, ((d.section_id, d.period) for d in drafts))
    new, corrected, unchanged = [], [], []
    problems = []
    for draft in drafts:
        row = existing.get((draft.section_id, draft.period))
        if row is None:
            new.append(draft)
        elif figures_of(row) == draft.figures:
            unchanged.append(draft)
        elif correction:
            corrected.append((row, draft))
        else:
            problems.append((f"第{draft.line}行 row {draft.line}",
                             f"断面 {codes[draft.section_id]} {draft.period:%Y-%m} 已有监测数据"
                             f"（第{row.version}版），更正须注明 --correction 与原因 / "
                             f"{codes[draft.section_id]} {draft.period:%Y-%m} is already "
                             f"recorded (version {row.version}); a correction must say so "
                             "and why"))
    if problems:
        raise MonitoringImportRefused(problems)
    return Plan(new, corrected, unchanged)


def write(session: Session, *, basin_id: int, filename: str, sha256: str, rows: int,
          planned: Plan, correction: bool, reason: str | None, actor: str) -> MonitoringImport:
    record = MonitoringImport(basin_id=basin_id, filename=filename[:300], sha256=sha256,
                              rows=rows, correction=correction, reason=reason, created_by=actor)
    session.add(record)
    session.flush()
    for old, _draft in planned.corrected:
        old.current = False
    session.flush()  # the old version stops being current before the new one is added
    session.add_all([
        MonitoringRow(section_id=draft.section_id, period=draft.period, version=version,
                      current=True, import_id=record.id, source_row=draft.line, **draft.figures)
        for draft, version in [*((d, 1) for d in planned.new),
                               *((d, old.version + 1) for old, d in planned.corrected)]])
    session.flush()
    return record
