"""Generation files: one row per power project and month (filing_code, month, kwh), as
CSV (UTF-8 or GB18030) or Excel, checked whole before anything is written: every bad
row is named with its line and reason, and one bad row refuses the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import NamedTuple

from qinglu.core.errors import FileRefused, InvalidInput
from qinglu.core.spreadsheets import text_rows

COLUMNS = ("filing_code", "month", "kwh")
ALIASES = {"建档立卡编码": "filing_code", "项目编码": "filing_code", "project_code": "filing_code",
           "月份": "month", "发电量": "kwh", "上网电量": "kwh", "kwh": "kwh"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(-01)?$")
_KWH = re.compile(r"^-?\d{1,15}$")
PROGRESS_EVERY = 5000


class GenerationImportRefused(FileRefused):
    """A generation file refused whole; `problems` names each bad row and why."""

    code = "generation-import-refused"
    what_zh, what_en = "发电量数据导入", "generation data"


class GenerationRow(NamedTuple):
    line: int
    filing_code: str
    month: date
    kwh: int


class ProjectState(NamedTuple):
    """What the check needs of a registered project: its id, the last month issued."""

    id: int
    last_month: date | None
    issues: bool = True  # storage gets no certificates


def read_table(filename: str, content: bytes) -> list[list[str]]:
    """The uploaded file as rows of text (core.spreadsheets: Excel checked before it is
    unpacked, CSV in UTF-8 or GBK), a bad file refused in one line."""
    try:
        return text_rows(filename, content)
    except InvalidInput as exc:
        raise GenerationImportRefused([("file", exc.message)]) from None


def parse_month(text: str) -> date:
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(text)
    return date(int(match.group(1)), int(match.group(2)), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _positions(header: Sequence[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        key = name.strip().lower().split(" ")[0].split("[")[0]
        key = ALIASES.get(key, ALIASES.get(name.strip(), key))
        if key in COLUMNS:
            positions.setdefault(key, index)
    missing = [column for column in COLUMNS if column not in positions]
    if missing:
        raise GenerationImportRefused([("line 1", f"缺少列 missing columns {missing}")])
    return positions


def check_rows(rows: list[list[str]], projects: dict[str, ProjectState],
               progress: Callable[[int, int], None] | None = None
               ) -> tuple[list[GenerationRow], list[tuple[str, str]]]:
    """Every row checked: a known project, a month, a whole kWh >= 0; no project and
    month twice; no month already issued; and each project's months following on from
    the last one issued without a gap (the carried remainder runs month to month).
    (A file holds 100,000 rows at national scale: each distinct month text is parsed
    once, and a plain whole number skips the pattern.)"""
    if not rows:
        return [], [("file", "空文件 empty file")]
    positions = _positions(rows[0])
    at_code, at_month, at_kwh = (positions[c] for c in COLUMNS)
    width = max(at_code, at_month, at_kwh) + 1
    parsed: dict[str, date | None] = {}
    good: list[GenerationRow] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, date], int] = {}
    total = len(rows) - 1
    for line, row in enumerate(rows[1:], 2):
        if len(row) < width:
            row = [*row, *[""] * (width - len(row))]
        code, month_text = row[at_code].strip().upper(), row[at_month].strip()
        kwh_text = row[at_kwh].strip()
        if month_text not in parsed:
            parsed[month_text] = _month_or_none(month_text)
        month = parsed[month_text]
        project = projects.get(code)
        plain = kwh_text.isdecimal() and len(kwh_text) <= 15
        if project is not None and month is not None and plain and project.issues and (
                code, month) not in seen and (project.last_month is None
                                              or month > project.last_month):
            seen[(code, month)] = line  # the common case: nothing to say
            good.append(GenerationRow(line, code, month, int(kwh_text)))
        else:
            reasons = _reasons(code, month, month_text, kwh_text, project, seen, line)
            if reasons:
                problems.append((f"line {line}", "; ".join(reasons)))
            elif month is not None:
                good.append(GenerationRow(line, code, month, int(kwh_text)))
        if progress and (line - 1) % PROGRESS_EVERY == 0:
            progress(line - 1, total)
    problems += _gaps(good, projects)
    if progress:
        progress(total, total)
    return good, problems


def _month_or_none(text: str) -> date | None:
    try:
        return parse_month(text)
    except ValueError:
        return None


def _reasons(code: str, month: date | None, month_text: str, kwh_text: str,
             project: ProjectState | None, seen: dict[tuple[str, date], int],
             line: int) -> list[str]:
    """Why a row is refused (empty: it is good after all)."""
    reasons = []
    if project is None:
        reasons.append(f"未登记的项目 unknown project {code!r}")
    if month is None:
        reasons.append(f"月份 {month_text!r} 无效（YYYY-MM）/ bad month")
    if not _KWH.match(kwh_text):
        reasons.append(f"电量 {kwh_text!r} 须为整数 kWh / kWh must be a whole number")
    elif int(kwh_text) < 0:
        reasons.append(f"电量为负 negative kWh {kwh_text}")
    if month is not None and project is not None:
        if (code, month) in seen:
            reasons.append(f"与 line {seen[(code, month)]} 重复 duplicate of line "
                           f"{seen[(code, month)]}")
        elif project.last_month is not None and month <= project.last_month:
            reasons.append(f"{month:%Y-%m} 已核发 already issued")
        seen.setdefault((code, month), line)
        if not project.issues:
            reasons.append("储能不核发绿证 storage discharge gets no certificates")
    return reasons


def _gaps(rows: list[GenerationRow], projects: dict[str, ProjectState]
          ) -> list[tuple[str, str]]:
    first: dict[str, GenerationRow] = {}
    more: dict[str, list[GenerationRow]] = {}
    for row in rows:
        if row.filing_code in first:
            more.setdefault(row.filing_code, [first[row.filing_code]]).append(row)
        else:
            first[row.filing_code] = row
    problems = []
    for code, row in first.items():
        expected = projects[code].last_month
        for month in sorted(more[code], key=lambda r: r.month) if code in more else (row,):
            if expected is not None and month.month != next_month(expected):
                problems.append((f"line {month.line}", f"缺少 {next_month(expected):%Y-%m} "
                                 f"的数据 gap: {next_month(expected):%Y-%m} missing before "
                                 f"{month.month:%Y-%m}"))
                break
            expected = month.month
    return problems
