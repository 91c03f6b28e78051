"""The social-assistance domain. Importing it installs Chinese validation messages before any schema exists and
declares the domain's audit actions to the engine."""
from . import (  # noqa: F401  (registers the domain's audit actions)
    audit_actions,
    messages,
    substitutes,  # noqa: F401  (the substitutes table joins the metadata)
)
from . import linshi as linshi_limits  # noqa: F401  (临时救助 tiers join the metadata; details registered)
from .aid import models as aid_models  # noqa: F401  (the aid register joins the metadata)
from .complaints import models as complaint_models  # noqa: F401  (complaints and receivables join the metadata)
from .forms import designed_store  # noqa: F401  (designed forms join the metadata; deploys pin their versions)
from .register import models as register_models  # noqa: F401  (the register's tables join the metadata)
from .tasks import signers_model  # noqa: F401  (task signers — 会签/或签/加签 — join the metadata)
