"""Regression guard on the shared KTAS development split (skipped when the data is not present).

These figures are on the data the rules were developed against, so they are a floor that a rule
change must not break, not an estimate of performance elsewhere (see the triage eval report).
"""

from __future__ import annotations

import pytest

from triage_kiosk.cli import DEFAULT_DATA, evaluate
from triage_kiosk.triage import TriageEngine
from triage_kiosk.triage.ktas import read_ktas_csv

pytestmark = pytest.mark.skipif(not DEFAULT_DATA.is_file(), reason=f"{DEFAULT_DATA} not present")


def test_dev_split_reads_completely_and_nurse_baseline_matches_readme() -> None:
    """All 507 dev rows parse, and the nurse baseline reproduces the README (κq 0.866, 11.44 % under)."""
    data = read_ktas_csv(DEFAULT_DATA)
    assert len(data.cases) == 507 and not data.skipped
    _, nurse = evaluate(data, TriageEngine())
    assert nurse.kappa_quadratic == pytest.approx(0.866, abs=5e-4)
    assert nurse.under_triage == pytest.approx(58 / 507)
    assert nurse.over_triage == pytest.approx(22 / 507)


def test_engine_on_dev_meets_the_floor() -> None:
    """The shipped rules keep quadratic kappa >= 0.75 with under-triage <= 8 % on the dev split."""
    ours, _ = evaluate(read_ktas_csv(DEFAULT_DATA), TriageEngine())
    assert ours.kappa_quadratic >= 0.75
    assert ours.under_triage <= 0.08
