"""Every resource module, imported once so that its operations register (in the description's order)."""

from tracker.api import plans, units, inbox, indicators  # noqa: F401
