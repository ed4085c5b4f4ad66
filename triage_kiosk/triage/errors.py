"""The one error a bad rules or complaints file raises."""

from __future__ import annotations


class RulesError(ValueError):
    """A rules or complaint file is invalid; the message names the file, the entry and the field."""
