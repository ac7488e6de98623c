"""Parameter files: every value with its unit, source and the dates it is valid for.

A file is a CSV whose key columns name what a value is for (e.g. ef_set, category,
species) and whose other columns are `value`, `unit`, `source`, `valid_from`,
`valid_to` (empty: still valid) and `status`. Files are checked when loaded; a
malformed file is refused with its path and the reason.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

PARAMETER_DIR = Path(__file__).parent / "parameters"
VALUE_COLUMNS = ("value", "unit", "source", "valid_from", "valid_to", "status")
KNOWN_UNITS = frozenset({"g/kg DM", "t DM/ha", "fraction", "kgCO2e/kg", "t DM/m3", "ratio",
                         "t C/t DM", "kg", "exponent",
                         "mg/L", "万元/t", "元",  # water limits and basin rules (basin.py)
                         "kgCO2/kWh"})  # grid emission factors (green.py)
# "unconfirmed": kept for the record but not checked in its original; a method must
# refuse to use it unless the caller gives an override file (see methods/forest.py).
# "policy": a registry rule (e.g. the buffer share), sourced to the decision, not a measurement.
STATUSES = frozenset({"verified", "transcribed", "derived", "unconfirmed", "policy"})


class ParameterFileError(ValueError):
    def __init__(self, path: Path, reason: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"参数文件无效 invalid parameter file {where}: {reason}")
        self.path, self.reason, self.line = path, reason, line


@dataclass(frozen=True)
class Parameter:
    key: tuple[str, ...]
    value: float
    unit: str
    source: str
    valid_from: date
    valid_to: date | None
    status: str

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def as_dict(self, name: str) -> dict[str, object]:
        return {"name": name, "value": self.value, "unit": self.unit, "source": self.source,
                "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None,
                "status": self.status}


class ParameterTable:
    """The parameters of one file, looked up by key and date."""

    def __init__(self, path: Path, key_columns: Sequence[str], rows: list[Parameter]) -> None:
        self.path, self.key_columns = path, tuple(key_columns)
        self._by_key: dict[tuple[str, ...], list[Parameter]] = {}
        for row in rows:
            self._by_key.setdefault(row.key, []).append(row)

    def get(self, key: tuple[str, ...], on: date) -> Parameter | None:
        for row in self._by_key.get(key, ()):
            if row.valid_on(on):
                return row
        return None

    def keys(self) -> list[tuple[str, ...]]:
        return sorted(self._by_key)

    def species_of(self, prefix: str) -> set[str]:
        """Last key parts under a first key part (e.g. the species of one EF set)."""
        return {key[-1] for key in self._by_key if key[0] == prefix}


def _parse_date(path: Path, line: int, text: str, column: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterFileError(path, f"{column} {text!r} is not a date (YYYY-MM-DD)",
                                 line) from None


def _parse_row(path: Path, line: int, raw: dict[str, str],
               key_columns: Sequence[str]) -> Parameter:
    key = tuple((raw.get(c) or "").strip() for c in key_columns)
    if not all(key):
        raise ParameterFileError(path, f"empty key column in {key_columns}", line)
    try:
        value = float(raw["value"])
    except ValueError:
        raise ParameterFileError(path, f"value {raw['value']!r} is not a number", line) from None
    if not math.isfinite(value) or value < 0:
        raise ParameterFileError(path, f"value {raw['value']!r} must be a finite number >= 0",
                                 line)
    if raw["unit"] not in KNOWN_UNITS:
        raise ParameterFileError(path, f"unknown unit {raw['unit']!r}", line)
    if not raw["source"].strip():
        raise ParameterFileError(path, "missing source", line)
    if raw["status"] not in STATUSES:
        raise ParameterFileError(path, f"status {raw['status']!r} is not one of "
                                 f"{sorted(STATUSES)}", line)
    valid_from = _parse_date(path, line, raw["valid_from"], "valid_from")
    valid_to = _parse_date(path, line, raw["valid_to"], "valid_to") if raw["valid_to"] else None
    if valid_to is not None and valid_to < valid_from:
        raise ParameterFileError(path, "valid_to is before valid_from", line)
    return Parameter(key, value, raw["unit"], raw["source"].strip(), valid_from, valid_to,
                     raw["status"])


def _check_overlaps(path: Path, rows: list[Parameter]) -> None:
    by_key: dict[tuple[str, ...], list[Parameter]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    for key, versions in by_key.items():
        versions.sort(key=lambda p: p.valid_from)
        for earlier, later in zip(versions, versions[1:], strict=False):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                raise ParameterFileError(path, f"validity ranges overlap for {key}")


def load_table(path: Path, key_columns: Sequence[str]) -> ParameterTable:
    """Read and check one parameter file."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in (*key_columns, *VALUE_COLUMNS)
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise ParameterFileError(path, f"missing columns {missing}")
            rows = [_parse_row(path, n, raw, key_columns) for n, raw in enumerate(reader, 2)]
    except OSError as exc:
        raise ParameterFileError(path, f"cannot read: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:  # a field past csv's limit, not UTF-8
        raise ParameterFileError(path, f"not a CSV table: {exc}") from None
    if not rows:
        raise ParameterFileError(path, "no parameters")
    _check_overlaps(path, rows)
    return ParameterTable(path, key_columns, rows)


@cache
def packaged_table(filename: str, key_columns: tuple[str, ...]) -> ParameterTable:
    return load_table(PARAMETER_DIR / filename, key_columns)
