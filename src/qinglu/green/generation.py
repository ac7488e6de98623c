"""Generation files: one row per power project and month (filing_code, month, kwh), as
CSV (UTF-8 or GB18030) or Excel, checked whole before anything is written: every bad
row is named with its line and reason, and one bad row refuses the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class GenerationRow:
    line: int
    filing_code: str
    month: date
    kwh: int


@dataclass(frozen=True)
class ProjectState:
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
    the last one issued without a gap (the carried remainder runs month to month)."""
    if not rows:
        return [], [("file", "空文件 empty file")]
    positions = _positions(rows[0])
    good: list[GenerationRow] = []
    problems: list[tuple[str, str]] = []
    seen: dict[tuple[str, date], int] = {}
    total = len(rows) - 1
    for line, row in enumerate(rows[1:], 2):
        where = f"line {line}"

        def cell(name: str, row: Sequence[str] = row) -> str:
            index = positions[name]
            return row[index].strip() if index < len(row) else ""

        code, month_text, kwh_text = cell("filing_code").upper(), cell("month"), cell("kwh")
        reasons = []
        project = projects.get(code)
        if project is None:
            reasons.append(f"未登记的项目 unknown project {code!r}")
        try:
            month = parse_month(month_text)
        except ValueError:
            reasons.append(f"月份 {month_text!r} 无效（YYYY-MM）/ bad month")
            month = None
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
        if reasons:
            problems.append((where, "; ".join(reasons)))
        elif month is not None:
            good.append(GenerationRow(line, code, month, int(kwh_text)))
        if progress and (line - 1) % PROGRESS_EVERY == 0:
            progress(line - 1, total)
    problems += _gaps(good, projects)
    if progress:
        progress(total, total)
    return good, problems


def _gaps(rows: list[GenerationRow], projects: dict[str, ProjectState]
          ) -> list[tuple[str, str]]:
    by_project: dict[str, list[GenerationRow]] = {}
    for row in rows:
        by_project.setdefault(row.filing_code, []).append(row)
    problems = []
    for code, months in by_project.items():
        months.sort(key=lambda r: r.month)
        expected = projects[code].last_month
        for row in months:
            if expected is not None and row.month != next_month(expected):
                problems.append((f"line {row.line}", f"缺少 {next_month(expected):%Y-%m} 的数据 "
                                 f"gap: {next_month(expected):%Y-%m} missing before "
                                 f"{row.month:%Y-%m}"))
                break
            expected = row.month
    return problems
