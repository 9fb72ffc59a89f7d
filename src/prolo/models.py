"""Every domain's tables on one metadata, for migrations and for tests that create schemas."""

from prolo.db import Base
from prolo.registry import models as _registry_models  # noqa: F401  (registers the tables)
from prolo.security import models as _security_models  # noqa: F401

metadata = Base.metadata
