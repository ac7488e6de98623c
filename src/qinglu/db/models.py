"""Every feature's tables, imported so that metadata is complete for Alembic."""

from qinglu.db.base import Base
from qinglu.registry import models as registry_models  # noqa: F401

metadata = Base.metadata
