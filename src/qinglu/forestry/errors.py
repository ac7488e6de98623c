"""Refusals shared by the forestry imports (parcels, trees)."""

from __future__ import annotations

from qinglu.core.errors import FileRefused


class ImportRefused(FileRefused):
    """A parcel or tree file refused as a whole."""
