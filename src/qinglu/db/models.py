"""Every feature's tables, imported so that metadata is complete for Alembic."""

from qinglu.accounts import models as accounts_models  # noqa: F401
from qinglu.basins import models as basins_models  # noqa: F401
from qinglu.cases import models as cases_models  # noqa: F401
from qinglu.core import models as core_models  # noqa: F401
from qinglu.db.base import Base
from qinglu.documents import models as documents_models  # noqa: F401
from qinglu.forestry import models as forestry_models  # noqa: F401
from qinglu.green import models as green_models  # noqa: F401
from qinglu.market import models as market_models  # noqa: F401
from qinglu.registry import models as registry_models  # noqa: F401

metadata = Base.metadata
