"""Exact 1:N search over every enrolled template, vectorised with numpy float32.

Squared distances to all templates in one matrix-vector product with precomputed norms,
``‖g‖² − 2 G·q + ‖q‖²`` (single-threaded SIMD, see :func:`_row_dots`), then an exact re-check in float64 of every row that the float32
rounding could have put in the wrong order: the result is exactly the nearest (and second
nearest) template, as a brute-force float64 scan would give. One template per patient; a
removed row is overwritten by the last row and zeroed (no stale plaintext left in the matrix).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import numpy as np

from .crypto import DIM

#: Absolute slack on float32 squared distances before the float64 re-check. Face encodings have
#: ‖g‖² ≈ 2; float32 rounding of the expression is < 1e-5 there, so this is generous.
_SQ_TOLERANCE: Final = 1e-3


def _row_dots(g: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``g @ q`` without BLAS threads: numpy's single-threaded SIMD ``vecdot``. The product is
    memory-bound; on a busy 2-core kiosk server OpenBLAS's threaded gemv measured 8 ms against
    2.3 ms for this (100,000 × 128), and it leaves the other core to the other requests."""
    return _VECDOT(g, q)


_VECDOT = getattr(np, "vecdot", None) or (lambda g, q: np.einsum("ij,j->i", g, q, optimize=False))


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Nearest template and runner-up (Euclidean distances; None when the index is that small)."""

    patient_id: str | None
    distance: float | None
    runner_up_id: str | None = None
    runner_up_distance: float | None = None


class TemplateIndex:
    """In-memory matrix of plaintext templates (decrypted at start-up); thread-safe."""

    def __init__(self, capacity: int = 1024) -> None:
        self._g = np.zeros((max(capacity, 1), DIM), dtype=np.float32)
        self._sq = np.zeros(max(capacity, 1), dtype=np.float32)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, patient_id: object) -> bool:
        return patient_id in self._row

    @property
    def ids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._ids)

    def _grow(self, need: int) -> None:
        cap = self._g.shape[0]
        if need <= cap:
            return
        new_cap = max(need, 2 * cap)
        g = np.zeros((new_cap, DIM), dtype=np.float32)
        sq = np.zeros(new_cap, dtype=np.float32)
        n = len(self._ids)
        g[:n], sq[:n] = self._g[:n], self._sq[:n]
        self._g.fill(0.0)
        self._g, self._sq = g, sq

    @staticmethod
    def check_vector(vector: np.ndarray) -> np.ndarray:
        """``vector`` as a float32 (128,) array; ValueError if it is not 128 finite numbers."""
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape != (DIM,) or not np.all(np.isfinite(v)):
            raise ValueError(f"vector: must be {DIM} finite numbers, got shape {np.shape(vector)}")
        return v

    def add(self, patient_id: str, vector: np.ndarray) -> None:
        """Insert, or replace the patient's template."""
        if not patient_id:
            raise ValueError("patient_id: must not be empty")
        v = self.check_vector(vector)
        with self._lock:
            row = self._row.get(patient_id)
            if row is None:
                row = len(self._ids)
                self._grow(row + 1)
                self._ids.append(patient_id)
                self._row[patient_id] = row
            self._g[row] = v
            self._sq[row] = float(np.dot(v, v))

    def add_many(self, patient_ids: list[str], vectors: np.ndarray) -> None:
        """Bulk insert of new patients (start-up load, benchmarks)."""
        m = np.asarray(vectors, dtype=np.float32)
        if m.ndim != 2 or m.shape != (len(patient_ids), DIM):
            raise ValueError(f"vectors: expected shape ({len(patient_ids)}, {DIM}), got {m.shape}")
        if len(set(patient_ids)) != len(patient_ids):
            raise ValueError("patient_ids: duplicates in one bulk insert")
        with self._lock:
            clash = [p for p in patient_ids if p in self._row]
            if clash:
                raise ValueError(f"patient_ids: already indexed: {', '.join(clash[:5])}")
            n = len(self._ids)
            self._grow(n + len(patient_ids))
            self._g[n : n + m.shape[0]] = m
            self._sq[n : n + m.shape[0]] = np.einsum("ij,ij->i", m, m)
            for i, pid in enumerate(patient_ids):
                self._row[pid] = n + i
            self._ids.extend(patient_ids)

    def remove(self, patient_id: str) -> bool:
        with self._lock:
            row = self._row.pop(patient_id, None)
            if row is None:
                return False
            last = len(self._ids) - 1
            if row != last:
                moved = self._ids[last]
                self._g[row] = self._g[last]
                self._sq[row] = self._sq[last]
                self._ids[row] = moved
                self._row[moved] = row
            self._ids.pop()
            self._g[last] = 0.0
            self._sq[last] = 0.0
            return True

    def clear(self) -> None:
        with self._lock:
            self._g.fill(0.0)
            self._sq.fill(0.0)
            self._ids.clear()
            self._row.clear()

    def search(self, query: np.ndarray, candidates: Collection[str] | None = None) -> SearchResult:
        """The exact nearest and second-nearest templates to ``query``, over all templates or only
        those of ``candidates`` (e.g. the patients expected today; unknown ids are ignored)."""
        q = self.check_vector(query)
        with self._lock:
            if candidates is None:
                n = len(self._ids)
                g, sq, rows = self._g[:n], self._sq[:n], None
            else:
                rows = np.unique(np.fromiter((self._row[p] for p in candidates if p in self._row), dtype=np.intp))
                n = rows.size
                g, sq = self._g[rows], self._sq[rows]
            if n == 0:
                return SearchResult(None, None)
            d = _row_dots(g, q)
            d *= -2.0
            d += sq
            d += float(np.dot(q, q))
            k = min(2, n)
            top = np.argpartition(d, k - 1)[:k] if n > k else np.arange(n)
            bound = float(d[top].max()) + _SQ_TOLERANCE
            cand = np.flatnonzero(d <= bound)
            diff = g[cand].astype(np.float64) - q.astype(np.float64)
            exact = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            glob = cand if rows is None else rows[cand]
            order = np.lexsort((glob, exact))[:k]
            ids = [self._ids[int(glob[i])] for i in order]
            dist = [float(exact[i]) for i in order]
        if k == 1:
            return SearchResult(ids[0], dist[0])
        return SearchResult(ids[0], dist[0], ids[1], dist[1])

    def brute_force(self, query: np.ndarray) -> SearchResult:
        """Reference float64 scan (tests and benchmarks check :meth:`search` against it)."""
        q = self.check_vector(query).astype(np.float64)
        with self._lock:
            n = len(self._ids)
            if n == 0:
                return SearchResult(None, None)
            diff = self._g[:n].astype(np.float64) - q
            dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            order = np.lexsort((np.arange(n), dist))[:2]
            ids = [self._ids[int(i)] for i in order]
        if n == 1:
            return SearchResult(ids[0], float(dist[order[0]]))
        return SearchResult(ids[0], float(dist[order[0]]), ids[1], float(dist[order[1]]))
