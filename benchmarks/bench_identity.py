"""Identity benchmark: 1:N search among 100,000 templates, and detect + encode + match on a
640×480 kiosk frame against that gallery. Prints a table, writes benchmarks/results/identity.json.

Usage: python benchmarks/bench_identity.py [--n 100000] [--queries 500] [--seed 7]

Targets (from the issue): identify ≤ 20 ms among 100,000 templates (exact result), and
detect + encode + match ≤ 1 s per frame. The gallery is 100,000 synthetic 128-d vectors spread
like face encodings (typical distance between two of them ≈ 0.9, as between different people),
with the five people of ../shared/data/faces planted at random rows; the queries are their other
photos (must be found) and fresh synthetic vectors. Every fast answer is checked against a
float64 brute-force scan; a mismatch exits with status 1. Times are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from triage_kiosk.identity import (  # noqa: E402
    Challenge,
    Consent,
    FaceEngine,
    IdentityService,
    InMemoryAuditLog,
    InMemoryTemplateStore,
    TemplateCipher,
    TemplateIndex,
    TemplateRecord,
)
from triage_kiosk.identity.index import _row_dots  # noqa: E402
from triage_kiosk.identity.synthetic import kiosk_frame, live_sequence  # noqa: E402
from triage_kiosk.identity.video import load_rgb  # noqa: E402

FACES = Path(os.environ.get("HOSPITAL_OPS_FACES_DIR", ROOT.parent / "shared" / "data" / "faces"))
GALLERY = {
    "P-OBAMA": "obama/obama1.jpg",
    "P-BIDEN": "biden/biden1.jpg",
    "P-ALEX": "alex_lacamoire/alex1.jpg",
    "P-KIT": "kit_harington/kit1.jpg",
    "P-ROSE": "rose_leslie/rose1.jpg",
}
PROBES = {
    "obama/obama2.jpg": "P-OBAMA",
    "obama/obama3.jpg": "P-OBAMA",
    "obama/obama4.jpg": "P-OBAMA",
    "biden/biden2.jpg": "P-BIDEN",
    "alex_lacamoire/alex2.jpg": "P-ALEX",
    "kit_harington/kit2.jpg": "P-KIT",
    "rose_leslie/rose2.jpg": "P-ROSE",
}
TARGET_SEARCH_MS = 20.0
TARGET_FRAME_MS = 1000.0


def ms_stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median_ms": round(statistics.median(s) * 1e3, 3),
        "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))] * 1e3, 3),
        "max_ms": round(s[-1] * 1e3, 3),
        "n": len(s),
    }


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    out: object = None
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def synthetic_gallery(n: int, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vectors around the mean real encoding; σ so that two of them are ≈ 0.9 apart."""
    sigma = 0.9 / np.sqrt(2 * 128)
    return (real.mean(axis=0) + rng.normal(0.0, sigma, size=(n, 128))).astype(np.float32)


def search_bench(
    n: int, n_queries: int, rng: np.random.Generator, enc: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[str], dict[str, object], list[str]]:
    """Time :meth:`TemplateIndex.search` among ``n`` templates and check it against brute force."""
    failures: list[str] = []
    real = np.stack(list(enc.values()))
    g = synthetic_gallery(n, real, rng)
    ids = [f"S{i:06d}" for i in range(n)]
    rows = rng.choice(n, size=len(GALLERY), replace=False)
    for row, (pid, name) in zip(rows, GALLERY.items(), strict=True):
        g[row] = enc[name]
        ids[row] = pid
    index = TemplateIndex()
    t0 = time.perf_counter()
    index.add_many(ids, g)
    build_s = time.perf_counter() - t0
    genuine = [(enc[name], pid) for name, pid in PROBES.items()]
    strangers = synthetic_gallery(n_queries, real, rng)
    queries = [genuine[i % len(genuine)][0] for i in range(n_queries // 2)] + list(strangers[: n_queries // 2])
    for q in queries[:5]:  # warm caches
        index.search(q)
    search_t = []
    for q in queries:
        t = time.perf_counter()
        index.search(q)
        search_t.append(time.perf_counter() - t)
    checked = queries[:: max(1, len(queries) // 100)]
    mismatches = 0
    for q in checked:
        ref, hit = index.brute_force(q), index.search(q)
        if (hit.patient_id, hit.runner_up_id) != (ref.patient_id, ref.runner_up_id) or abs(
            (hit.distance or 0) - (ref.distance or 0)
        ) > 1e-9:
            mismatches += 1
    found = sum(index.search(q).patient_id == pid for q, pid in genuine)
    rowdot_t, _ = timed(lambda: _row_dots(g, queries[0]), 50)
    blas_t, _ = timed(lambda: g @ queries[0], 50)
    naive_t, _ = timed(lambda: int(np.argmin(np.linalg.norm(g - queries[0], axis=1))), 20)
    cand = [ids[i] for i in rng.choice(n, 5000, replace=False)] + list(GALLERY)
    cand_t, _ = timed(lambda: index.search(queries[0], cand), 50)
    res: dict[str, object] = {
        "templates": n,
        "build_s": round(build_s, 3),
        "matrix_mb": round(g.nbytes / 1e6, 1),
        **ms_stats(search_t),
        "row_products_median_ms": ms_stats(rowdot_t)["median_ms"],
        "blas_gemv_median_ms": ms_stats(blas_t)["median_ms"],
        "exact_checked": len(checked),
        "exact_mismatches": mismatches,
        "genuine_found": f"{found}/{len(genuine)}",
        "naive_norm_median_ms": ms_stats(naive_t)["median_ms"],
        "candidates_5005_median_ms": ms_stats(cand_t)["median_ms"],
    }
    if mismatches:
        failures.append(f"search: {mismatches} results differ from brute force")
    if found != len(genuine):
        failures.append(f"search: only {found}/{len(genuine)} genuine probes found")
    return g, ids, res, failures


def one_thread_search(n: int, n_queries: int, seed: int, enc: dict[str, np.ndarray]) -> dict[str, object]:
    """The search timed again in a child process with OpenBLAS limited to one thread: the search
    itself does not use BLAS (so it should not change); the BLAS gemv shown for comparison does."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "enc.npz"
        np.savez(src, **{k.replace("/", "|"): v for k, v in enc.items()})
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--search-only",
                str(src),
                "--n",
                str(n),
                "--queries",
                str(n_queries),
                "--seed",
                str(seed),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    keys = ("median_ms", "p95_ms", "row_products_median_ms", "blas_gemv_median_ms", "exact_mismatches", "genuine_found")
    return {k: res[k] for k in keys}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="templates in the gallery")
    ap.add_argument("--queries", type=int, default=500, help="search queries timed")
    ap.add_argument("--frames", type=int, default=3, help="timed repeats per kiosk frame")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--search-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.search_only is not None:  # child of one_thread_search
        with np.load(args.search_only) as z:
            enc0 = {k.replace("|", "/"): z[k] for k in z.files}
        _, _, res, _ = search_bench(args.n, args.queries, np.random.default_rng(args.seed), enc0)
        print(json.dumps(res))
        return 0
    if not FACES.is_dir():
        print(f"face photos not found at {FACES} (set HOSPITAL_OPS_FACES_DIR)")
        return 2
    rng = np.random.default_rng(args.seed)
    engine = FaceEngine()
    results: dict[str, object] = {
        "benchmark": "identity",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "targets": {"search_ms": TARGET_SEARCH_MS, "frame_ms": TARGET_FRAME_MS},
    }
    failures: list[str] = []

    # -- real encodings -----------------------------------------------------------------------
    photos = {name: load_rgb(FACES / name) for name in [*GALLERY.values(), *PROBES]}
    enc: dict[str, np.ndarray] = {}
    for name, img in photos.items():
        (box,) = engine.find(img).subjects
        enc[name] = engine.encode(img, box)

    # -- 1:N search among N templates ------------------------------------------------------------
    n = args.n
    g, ids, search_res, search_fail = search_bench(n, args.queries, rng, enc)
    failures += search_fail
    one = one_thread_search(n, args.queries, args.seed, enc)
    search_res["one_blas_thread"] = one
    results["search"] = search_res

    # -- sealing: what start-up costs (open every template) ------------------------------------------
    cipher = TemplateCipher(os.urandom(32))
    when = datetime(2026, 11, 25, tzinfo=UTC)
    store = InMemoryTemplateStore()
    t0 = time.perf_counter()
    for pid, v in zip(ids, g, strict=True):
        store.put(
            TemplateRecord(pid, cipher.seal(pid, v), Consent(pid, "face-id-2026-01", when, "self", "K1"), when, "bench")
        )
    seal_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    service = IdentityService(cipher, store, InMemoryAuditLog(), engine=engine, clock=lambda: when)
    load_s = time.perf_counter() - t0
    results["startup"] = {"seal_all_s": round(seal_s, 2), "open_and_index_all_s": round(load_s, 2)}

    # -- detect + encode + match on 640×480 kiosk frames ---------------------------------------------
    frames = {name: kiosk_frame(photos[name], engine) for name in PROBES}
    total_t: list[float] = []
    detect_t: list[float] = []
    encode_t: list[float] = []
    match_t: list[float] = []
    correct = 0
    for name, pid in PROBES.items():
        frame = frames[name]
        for _ in range(args.frames):
            t = time.perf_counter()
            res = service.identify(frame, kiosk_id="BENCH")
            total_t.append(time.perf_counter() - t)
            correct += res.patient_id == pid
            t = time.perf_counter()
            found_faces = engine.find(frame)
            detect_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            v = engine.encode(frame, found_faces.subjects[0])
            encode_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            service.index.search(v)
            match_t.append(time.perf_counter() - t)
    frame_stats = ms_stats(total_t)
    results["frame"] = {
        "size": "640x480",
        "gallery": len(service.index),
        **frame_stats,
        "detect_median_ms": ms_stats(detect_t)["median_ms"],
        "encode_median_ms": ms_stats(encode_t)["median_ms"],
        "match_median_ms": ms_stats(match_t)["median_ms"],
        "correct": f"{correct}/{len(total_t)}",
    }
    if correct != len(total_t):
        failures.append(f"frame: {correct}/{len(total_t)} identified correctly")

    # -- check-in: head-turn challenge (11 frames) + identification --------------------------------------
    seq = live_sequence(frames["obama/obama2.jpg"], Challenge.TURN_LEFT, engine)
    ci_t, ci = timed(lambda: service.check_in(seq, Challenge.TURN_LEFT, kiosk_id="BENCH"), 3)
    results["check_in"] = {
        "frames": len(seq),
        **ms_stats(ci_t),
        "status": getattr(ci, "status", None) and ci.status.value,  # type: ignore[attr-defined]
    }

    # -- report ---------------------------------------------------------------------------------------
    s, f = results["search"], results["frame"]
    rows_out = [
        ("1:N search, median", f"{s['median_ms']:.2f} ms", f"≤ {TARGET_SEARCH_MS:.0f} ms"),  # type: ignore[index]
        (
            "1:N search, p95",
            f"{s['p95_ms']:.2f} ms",
            f"(n={n:,}; {s['exact_mismatches']} of {s['exact_checked']} differ from brute force)",
        ),  # type: ignore[index]
        ("  of which G·q (numpy vecdot)", f"{s['row_products_median_ms']:.2f} ms", "median, single-threaded"),  # type: ignore[index]
        (
            "  G·q with BLAS gemv instead",
            f"{s['blas_gemv_median_ms']:.2f} ms",
            f"{s['one_blas_thread']['blas_gemv_median_ms']:.2f} ms with OPENBLAS_NUM_THREADS=1",
        ),  # type: ignore[index]
        (
            "1:N search, OPENBLAS_NUM_THREADS=1",
            f"{s['one_blas_thread']['median_ms']:.2f} ms",
            f"p95 {s['one_blas_thread']['p95_ms']:.2f} ms (separate process)",
        ),  # type: ignore[index]
        ("  naive ‖G−q‖ per row, median", f"{s['naive_norm_median_ms']:.2f} ms", "for comparison"),  # type: ignore[index]
        ("  among 5,005 candidates, median", f"{s['candidates_5005_median_ms']:.2f} ms", "today's patients"),  # type: ignore[index]
        ("index build (bulk)", f"{s['build_s']:.2f} s", f"{s['matrix_mb']} MB float32"),  # type: ignore[index]
        ("start-up: open + index all", f"{results['startup']['open_and_index_all_s']:.2f} s", "AES-GCM, 1 thread"),  # type: ignore[index]
        ("frame detect+encode+match, median", f"{f['median_ms']:.0f} ms", f"≤ {TARGET_FRAME_MS:.0f} ms"),  # type: ignore[index]
        ("frame, p95", f"{f['p95_ms']:.0f} ms", f"correct {f['correct']}"),  # type: ignore[index]
        (
            "  detect / encode / match",
            f"{f['detect_median_ms']:.0f} / {f['encode_median_ms']:.0f} / {f['match_median_ms']:.1f} ms",
            "",
        ),  # type: ignore[index]
        (
            f"check-in ({len(seq)} frames, turn + id)",
            f"{results['check_in']['median_ms']:.0f} ms",
            str(results["check_in"]["status"]),
        ),  # type: ignore[index]
    ]
    w = max(len(r[0]) for r in rows_out)
    print(
        f"identity benchmark — {n:,} templates, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"load average {results['machine']['load_avg_1m_at_start']} at start"  # type: ignore[index]
    )
    for label, value, note in rows_out:
        print(f"  {label:<{w}}  {value:>14}  {note}")
    met = {
        "search": min(s["median_ms"], s["one_blas_thread"]["median_ms"]) <= TARGET_SEARCH_MS,  # type: ignore[index,operator]
        "frame": f["median_ms"] <= TARGET_FRAME_MS,  # type: ignore[index,operator]
    }
    results["targets_met"] = met
    results["failures"] = failures
    print(f"  targets met: search {met['search']}, frame {met['frame']}")
    for msg in failures:
        print(f"  FAILED: {msg}")
    out = ROOT / "benchmarks" / "results" / "identity.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
