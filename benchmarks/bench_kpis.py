"""Dashboard KPI benchmark: time per KPI tick with 1,000 / 4,000 / 20,000 tasks in the store,
counted row by row in Python (the old way) and by aggregate queries (the new way).

Usage: python benchmarks/bench_kpis.py [--sizes 1000,4000,20000] [--ticks 30] [--dbs sqlite,postgresql]
                                      [--per-day 4000] [--seed 1] [--explain]

The store holds ``size`` tasks requested at ``--per-day`` a day up to "now" (14:30; so 20,000
tasks = five days of history), most finished, the last hour's open (tests/dashboard/kpi_seed.py),
with 1,000 kiosk check-ins and 600 triage results a day over the same span. Each web worker
computes the KPIs once a second (``ops_dashboard.services.kpis``); the hourly charts are
recomputed at most every 10 s. Timed, per size and database:

- ``tick``: one KPI tick with the charts cached (nine ticks in ten);
- ``tick_with_charts``: a tick that also recomputes the day's charts (one in ten);
- ``per_tick``: the average over ten ticks (9 × tick + 1 × tick_with_charts).

Both ways must give the same KPIs on every size; a difference exits with status 1.
SQLite is a file in a temporary directory (WAL, as in production); PostgreSQL the throw-away
server of tests/pg.py (skipped when its binaries are missing). Prints a table and writes
benchmarks/results/kpis.json. Times are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))

from kpi_reference import kpis_reference  # noqa: E402
from kpi_seed import at, check_in_row, insert, patient_row, synthetic_history, triage_row  # noqa: E402

from hospital_ops.campus import default_campus  # noqa: E402
from hospital_ops.store import Store, db_upgrade  # noqa: E402
from ops_dashboard.services import OpsContext, kpis  # noqa: E402
from tests.pg import PostgresUnavailable, start_postgres  # noqa: E402

NOW = int(datetime(2026, 1, 5, 14, 30, tzinfo=UTC).timestamp())
CHECK_INS_PER_DAY = 1_000
TRIAGE_PER_DAY = 600
CHART_EVERY = 10  # DAY_SERIES_CACHE_S / KPI_PERIOD_S


def seed_store(store: Store, n_tasks: int, per_day: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    tasks = synthetic_history(n_tasks, NOW, per_day=per_day, seed=seed)
    span_s = n_tasks * 86_400 / per_day
    n_check_ins = round(span_s / 86_400 * CHECK_INS_PER_DAY)
    n_triage = round(span_s / 86_400 * TRIAGE_PER_DAY)
    patients = [patient_row(f"P{i:06d}", at(NOW - span_s - 60)) for i in range(max(1, n_check_ins))]
    check_ins = [
        check_in_row(f"C{i:06d}", f"P{i:06d}", int(NOW - span_s + (i + rng.random()) * span_s / n_check_ins))
        for i in range(n_check_ins)
    ]
    triage = []
    for i in range(n_triage):
        c = check_ins[min(len(check_ins) - 1, int(i * len(check_ins) / max(1, n_triage)))] if check_ins else None
        when = (c["at_s"] if c else NOW - span_s) + rng.uniform(120, 1800)
        level = rng.choices([1, 2, 3, 4, 5], [1, 8, 35, 40, 16])[0]
        triage.append(
            triage_row(
                c["patient_id"] if c else patients[0]["id"],
                level=level,
                escalate=level <= 2 or rng.random() < 0.02,
                at_dt=at(min(when, NOW - 1)),
                check_in_id=c["id"] if c else None,
            )
        )
    insert(store, tasks=tasks, patients=patients, check_ins=check_ins, triage=triage)
    return {"tasks": len(tasks), "check_ins": len(check_ins), "triage_results": len(triage)}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median_ms": round(statistics.median(s) * 1e3, 2),
        "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))] * 1e3, 2),
        "n": len(s),
    }


def bench_way(compute: Callable[[OpsContext], dict[str, Any]], ctx: OpsContext, ticks: int) -> dict[str, Any]:
    compute(ctx)  # warm the engine's pool and the chart cache

    def cold() -> None:
        ctx.cache.clear()
        compute(ctx)

    warm_t = timed(lambda: compute(ctx), ticks)
    cold_t = timed(cold, max(3, ticks // 3))
    warm, with_charts = statistics.median(warm_t), statistics.median(cold_t)
    return {
        "tick": ms(warm_t),
        "tick_with_charts": ms(cold_t),
        "per_tick_ms": round(((CHART_EVERY - 1) * warm + with_charts) / CHART_EVERY * 1e3, 2),
    }


def explain(store: Store) -> list[str]:
    """The plans of the aggregate queries (to see which index each one uses)."""
    from hospital_ops.store import aggregates as agg

    day0 = agg.utc(NOW - 14 * 3600 - 1800)
    queries = {
        "open_task_counts": agg.open_task_counts_query(NOW),
        "delivery_counts": agg.delivery_counts_query(store.dialect, day0, None, ["stat"]),
        "overdue": agg.overdue_query(NOW, 100),
        **dict(
            zip(
                ("hourly_requested", "hourly_delivered"),
                agg.hourly_queries(store.dialect, NOW - 52_200, NOW),
                strict=True,
            )
        ),
        "triage_levels": agg.triage_level_counts_query(agg.utc(NOW - 14_400), 2_000),
        "kiosk_waits": agg.kiosk_wait_query(NOW - 14_400, NOW, 4_000),
    }
    lines = []
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        for name, q in queries.items():
            sql = str(q.compile(conn.engine, compile_kwargs={"literal_binds": True}))
            rows = conn.execute(sa.text(prefix + sql)).all()
            lines.append(f"-- {name}")
            lines += ["   " + " | ".join(str(c) for c in r) for r in rows]
    return lines


def run(store: Store, sizes: list[int], args: argparse.Namespace, db: str, results: list[dict[str, Any]]) -> list[str]:
    failures = []
    seeded = 0
    campus = default_campus()
    for size in sizes:
        if size < seeded:
            raise SystemExit("--sizes must be increasing")
        # the store grows: the next size adds the older history (a fresh seed for the whole set)
        with store.engine.begin() as conn:
            for table in ("triage_results", "check_ins", "patients", "tasks"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        if db == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        counts = seed_store(store, size, args.per_day, args.seed)
        if db == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        seeded = size
        fleet = {f"R{i:02d}": {"mode": "busy" if i % 3 else "idle"} for i in range(40)}

        def ctx(fleet: dict[str, dict[str, Any]] = fleet) -> OpsContext:
            return OpsContext(store=store, campus=campus, clock=lambda: float(NOW), fleet=fleet)

        new_k, old_k = kpis(ctx()), kpis_reference(ctx())
        if new_k != old_k:
            failures.append(f"{db} {size}: the aggregate KPIs differ from the row-by-row KPIs")
        old = bench_way(kpis_reference, ctx(), args.ticks)
        new = bench_way(kpis, ctx(), args.ticks)
        results.append({"db": db, "tasks": size, "rows": counts, "old": old, "new": new, "same_kpis": new_k == old_k})
        print(
            f"{db:<11} {size:>7,} {old['tick']['median_ms']:>10.2f} {old['tick_with_charts']['median_ms']:>12.2f} "
            f"{old['per_tick_ms']:>10.2f} {new['tick']['median_ms']:>10.2f} "
            f"{new['tick_with_charts']['median_ms']:>12.2f} {new['per_tick_ms']:>10.2f} "
            f"{old['per_tick_ms'] / max(new['per_tick_ms'], 1e-6):>8.1f}×",
            flush=True,
        )
    if args.explain:
        print("\n".join(explain(store)))
    return failures


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,4000,20000", help="tasks in the store, increasing, comma-separated")
    ap.add_argument("--ticks", type=int, default=30, help="timed KPI ticks per size and way")
    ap.add_argument("--dbs", default="sqlite,postgresql", help="databases: sqlite, postgresql")
    ap.add_argument("--per-day", type=int, default=4_000, help="tasks requested per day")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--explain", action="store_true", help="print the aggregate queries' plans at the largest size")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kpis.json")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    dbs = [d.strip() for d in args.dbs.split(",") if d.strip()]
    if unknown := set(dbs) - {"sqlite", "postgresql"}:
        ap.error(f"--dbs: unknown database {sorted(unknown)}")
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    skipped: dict[str, str] = {}
    print(f"KPI time per tick (median ms; {args.ticks} ticks; charts recomputed every {CHART_EVERY} ticks)")
    print(
        f"{'database':<11} {'tasks':>7} {'old tick':>10} {'old +charts':>12} {'old avg':>10} "
        f"{'new tick':>10} {'new +charts':>12} {'new avg':>10} {'speed-up':>9}"
    )
    for db in dbs:
        if db == "sqlite":
            with (
                tempfile.TemporaryDirectory(prefix="bench-kpis-") as tmp,
                Store.open(f"sqlite:///{tmp}/ops.sqlite3") as s,
            ):
                failures += run(s, sizes, args, db, results)
            continue
        try:
            server = start_postgres()
        except PostgresUnavailable as exc:
            skipped[db] = str(exc)
            print(f"postgresql: skipped ({exc})")
            continue
        with server:
            url = server.create_database()
            db_upgrade(url)
            with Store.open(url) as s:
                failures += run(s, sizes, args, db, results)
    out = {
        "benchmark": "kpis",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_kpis.py " + " ".join(argv),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlalchemy": sa.__version__,
            "platform": platform.platform(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "setup": {"per_day": args.per_day, "check_ins_per_day": CHECK_INS_PER_DAY, "triage_per_day": TRIAGE_PER_DAY},
        "results": results,
        "skipped": skipped,
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
