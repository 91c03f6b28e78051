"""The web layer; imports the domain first so its Chinese validation messages apply to every schema."""
import workflows  # noqa: F401
