"""Shared fixtures for the triage tests."""

from __future__ import annotations

import pytest

from triage_kiosk.triage import TriageEngine


@pytest.fixture(scope="session")
def engine() -> TriageEngine:
    """The engine with the shipped rules."""
    return TriageEngine()
