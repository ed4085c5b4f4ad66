from __future__ import annotations

import numpy as np
import pytest

from triage_kiosk.identity import TemplateIndex


def _templates(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, 0.09, size=(n, 128)) + rng.normal(0.0, 0.05, size=128)).astype(np.float32)


def test_search_is_exactly_the_brute_force_nearest() -> None:
    """The float32 matrix-product search returns the same nearest and runner-up (ids and float64
    distances) as a float64 scan, also with near-ties and exact duplicates in the gallery."""
    g = _templates(5000, seed=1)
    g[10] = g[20]  # exact tie: the lower row wins in both
    g[30] = g[40] + 1e-6  # near tie
    idx = TemplateIndex()
    idx.add_many([f"P{i}" for i in range(len(g))], g)
    rng = np.random.default_rng(2)
    queries = np.vstack([g[[10, 20, 30, 40]] + 1e-7, g[rng.integers(0, len(g), 50)] + rng.normal(0, 0.02, (50, 128))])
    for q in queries.astype(np.float32):
        fast, ref = idx.search(q), idx.brute_force(q)
        assert (fast.patient_id, fast.runner_up_id) == (ref.patient_id, ref.runner_up_id)
        assert fast.distance == pytest.approx(ref.distance, abs=1e-12)
        assert fast.runner_up_distance == pytest.approx(ref.runner_up_distance, abs=1e-12)


def test_add_replace_remove_keep_the_index_consistent() -> None:
    """Replacing keeps one row per patient; removing moves the last row into the hole, zeroes the
    freed row and the search still agrees with brute force."""
    g = _templates(50, seed=3)
    idx = TemplateIndex(capacity=4)  # forces growth
    for i, v in enumerate(g):
        idx.add(f"P{i}", v)
    idx.add("P7", g[8])  # replace
    assert len(idx) == 50 and idx.search(g[8]).patient_id in {"P7", "P8"}
    assert idx.remove("P3") and not idx.remove("P3")
    assert "P3" not in idx and len(idx) == 49
    assert not np.any(idx._g[49]), "freed row must be zeroed"
    for q in g:
        assert idx.search(q).patient_id == idx.brute_force(q).patient_id
    assert idx.search(g[3]).patient_id != "P3"


def test_empty_and_single_template_and_candidates() -> None:
    """No templates → no match; one → no runner-up; a candidate list limits the search."""
    g = _templates(10, seed=4)
    idx = TemplateIndex()
    assert idx.search(g[0]).patient_id is None
    idx.add("A", g[0])
    one = idx.search(g[0])
    assert one.patient_id == "A" and one.distance == 0.0 and one.runner_up_id is None
    idx.add_many([f"B{i}" for i in range(1, 10)], g[1:])
    sub = idx.search(g[5], candidates=["B7", "B8", "nobody", "B7"])
    assert sub.patient_id in {"B7", "B8"} and sub.runner_up_id in {"B7", "B8"} and sub.patient_id != sub.runner_up_id
    assert idx.search(g[5], candidates=[]).patient_id is None


def test_bad_vectors_are_refused() -> None:
    """Wrong length, NaN or duplicate bulk ids: ValueError naming the field."""
    idx = TemplateIndex()
    with pytest.raises(ValueError, match="vector: must be 128 finite numbers"):
        idx.add("A", np.zeros(127, np.float32))
    with pytest.raises(ValueError, match="vector"):
        idx.search(np.full(128, np.nan, np.float32))
    with pytest.raises(ValueError, match="patient_ids: duplicates"):
        idx.add_many(["A", "A"], np.zeros((2, 128), np.float32))
