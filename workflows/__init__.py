"""The social-assistance domain. Importing it installs Chinese validation messages before any schema exists and
declares the domain's audit actions to the engine."""
from . import audit_actions, messages  # noqa: F401  (registers the domain's audit actions)
from .aid import models as aid_models  # noqa: F401  (the aid register joins the metadata)
from .register import models as register_models  # noqa: F401  (the register's tables join the metadata)
