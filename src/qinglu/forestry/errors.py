"""Refusals shared by the forestry imports (parcels, trees)."""

from __future__ import annotations

from qinglu.core.errors import InvalidInput


class ImportRefused(InvalidInput):
    """A file was refused as a whole; `problems` names each bad row (where, reason)."""

    code = "import-refused"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        lines = "; ".join(f"{where}: {reason}" for where, reason in problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"导入被拒绝，无任何写入：{lines}{more}",
                         f"import refused, nothing written: {lines}{more}")
        self.problems = problems
