"""Fixtures for the robots tests: a tiny campus, a fake clock, a fast PIN hash."""

from __future__ import annotations

import pytest
from robots_testkit import PIN, TINY_CAMPUS, FakeClock

from hospital_ops.campus import Campus, parse_campus
from robots.credentials import FAST_HASHER, hash_pin


@pytest.fixture(scope="session")
def tiny_campus() -> Campus:
    return parse_campus(TINY_CAMPUS, source="tiny")


@pytest.fixture(scope="session")
def pin_hash() -> str:
    return hash_pin(PIN, FAST_HASHER)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
