"""Every domain's tables on one metadata, for migrations and for tests that create schemas."""

from prolo.assessments import models as _assessment_models  # noqa: F401
from prolo.db import Base
from prolo.followup import models as _followup_models  # noqa: F401
from prolo.interop import models as _interop_models  # noqa: F401
from prolo.registry import models as _registry_models  # noqa: F401  (registers the tables)
from prolo.security import models as _security_models  # noqa: F401

metadata = Base.metadata
