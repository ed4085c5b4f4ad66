"""schemathesis against the served OpenAPI document: thousands of generated requests, no 5xx.

The WSGI app runs in-process over a fresh SQLite store, authenticated as an admin device
(bearer token; the admin role may call every endpoint, so requests get past the role check
and reach the handlers). Every operation gets positive (schema-valid) and negative
(schema-violating) cases; a few real task ids are mixed into the path parameters so item
endpoints also see tasks that exist. The ROS bridge is replaced by a stub that opens the
drawer for PIN 123456 only (with no bridge at all the hand-over answers a deliberate 503).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from hospital_ops.config import Settings
from hospital_ops.store import Store
from ops_dashboard import create_app, rest

#: Examples per operation and generation mode (17 operations × 2 modes).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "160"))
#: The same cases every run; FUZZ_RANDOM=1 explores new ones (for hunting, not for CI).
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"


def _stub_bridge(event: str, data: dict[str, Any]) -> dict[str, Any]:
    ok = data.get("secret") == "123456"
    return {"ok": ok, "reason": "" if ok else "wrong PIN"}


def _examples(strategy: Any, label: str, check: Any) -> None:
    """Run ``check(case, label)`` on EXAMPLES generated cases (deterministic: derandomize)."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case, label)

    run()


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every operation of /api/openapi.json, positive and negative cases: no response is 5xx,
    every error response is JSON with an ``error`` object, and thousands of requests are made."""
    store = Store.open(
        f"sqlite:///{tmp_path / 'fuzz.sqlite3'}", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    app = create_app(Settings(data_dir=tmp_path, secret_key="f" * 44), store=store, testing=True)
    app.config["RATELIMIT_ENABLED"] = False
    monkeypatch.setattr(rest.live, "bridge_call", _stub_bridge)
    token, _ = store.issue_device_token("fuzzer", "admin", actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    real_ids = []
    for prio in ("stat", "urgent", "routine"):
        r = client.post("/api/v1/tasks", json={"ward": "T3-10", "priority": prio}, headers=headers)
        real_ids.append(r.json["id"])
    store.transition_task(real_ids[0], "planned", actor="scheduler", robot_id="R01", eta_s=2_000_000_000)
    store.raise_alert("robot.fault", "fuzz", subject="robot:R01", actor="test")

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    statuses: Counter[int] = Counter()
    per_operation: Counter[str] = Counter()
    failures: list[str] = []
    unsatisfiable: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            label = f"{op.method.upper()} {op.path} [{mode.value}]"
            strategy = op.as_strategy(generation_mode=mode)
            if "{task_id}" in op.path and mode is schemathesis.GenerationMode.POSITIVE:
                strategy = st.one_of(strategy, *(op.as_strategy(path_parameters={"task_id": t}) for t in real_ids))

            def check(case: Any, label: str) -> None:
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                per_operation[label] += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{label}: {response.status_code} {case.path_parameters} {case.query} {case.body!r:.300}"
                    )
                elif response.status_code >= 400:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
                        failures.append(f"{label}: {response.status_code} without a JSON error: {response.text[:200]}")

            try:
                _examples(strategy, label, check)
            except Unsatisfiable:  # nothing to violate (no parameters, no body): positive cases only
                unsatisfiable.append(label)
    store.close()
    total = sum(statuses.values())
    print(
        f"\nschemathesis: {total} requests over {len(per_operation)} operation×mode ({len(unsatisfiable)} without negative cases); statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n".join(failures[:20])
    assert total >= 2000, (total, per_operation)
    assert {k.rsplit(" [", 1)[0] for k in per_operation} >= {
        f"{o.ok().method.upper()} {o.ok().path}" for o in schema.get_all_operations()
    }
