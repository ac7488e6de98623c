"""Human serial numbers of unit blocks.

Form: ``QL-FCS-522629-P000012-2024-000000000001-000000005396``
      registry - product - region (GB/T 2260) - project - vintage - first - last.
A single unit may be written without the last part. Serial numbers are unique
within a product's serial space; the other parts make the string self-describing
and are checked against the registry when it is looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qinglu.core.errors import InvalidSerial

REGISTRY_CODE = "QL"
# Zero-padded widths of the project and serial fields. A longer number widens its field
# (P1000000, a 13-digit serial), never loses digits; the server path's
# qinglu_format_serial (registry/sql/format_serial.sql) is rendered from these.
PROJECT_WIDTH = 6
SERIAL_WIDTH = 12
_SERIAL_RE = re.compile(
    r"^(?P<registry>[A-Z]{2,8})-(?P<product>[A-Z][A-Z0-9]{1,7})-(?P<region>\d{6})"
    r"-P(?P<project>\d{1,12})"
    r"-(?P<vintage>\d{4})-(?P<start>\d{1,15})(?:-(?P<end>\d{1,15}))?$"
)


@dataclass(frozen=True)
class SerialRange:
    registry: str
    product: str
    region: str
    project_id: int
    vintage: int
    start: int
    end: int

    def __str__(self) -> str:
        return format_serial(
            self.product, self.region, self.project_id, self.vintage, self.start, self.end,
            registry=self.registry,
        )

    @property
    def quantity(self) -> int:
        return self.end - self.start + 1


def format_serial(
    product: str,
    region: str,
    project_id: int,
    vintage: int,
    start: int,
    end: int,
    *,
    registry: str = REGISTRY_CODE,
) -> str:
    return (f"{registry}-{product}-{region}-P{project_id:0{PROJECT_WIDTH}d}-{vintage}"
            f"-{start:0{SERIAL_WIDTH}d}-{end:0{SERIAL_WIDTH}d}")


def parse_serial(text: str) -> SerialRange:
    match = _SERIAL_RE.match(text.strip().upper())
    if not match:
        raise InvalidSerial(
            f"序列号 {text!r} 格式不正确"
            "（例：QL-FCS-522629-P000001-2024-000000000001-000000005396）",
            f"serial {text!r} is malformed "
            "(e.g. QL-FCS-522629-P000001-2024-000000000001-000000005396)",
        )
    start = int(match["start"])
    end = int(match["end"]) if match["end"] else start
    if start < 1 or end < start:
        raise InvalidSerial(
            f"序列号 {text!r} 的区间无效", f"serial {text!r} has an empty or reversed range"
        )
    return SerialRange(
        registry=match["registry"],
        product=match["product"],
        region=match["region"],
        project_id=int(match["project"]),
        vintage=int(match["vintage"]),
        start=start,
        end=end,
    )
