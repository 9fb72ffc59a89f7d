"""Every domain's tables on one metadata, for migrations and for tests that create schemas."""

from prolo.db import Base
from prolo.registry import models as _registry_models  # noqa: F401  (registers the tables)

metadata = Base.metadata
