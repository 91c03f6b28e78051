"""The social-assistance domain. Importing it installs Chinese validation messages before any schema exists."""
from . import messages  # noqa: F401
