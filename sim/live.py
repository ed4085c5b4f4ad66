"""Live mode: replay a scenario's delivery demand against a running stack, K times faster than real.

The demand comes from :func:`sim.demand.delivery_requests` (the twin's own generator: wards,
pharmacy, lab and ED requests with their times). :class:`LiveDriver` sleeps between requests
(``Δt / speed``) and POSTs each one as JSON to ``{target}/api/v1/tasks``::

    {"pickup": "...", "dropoff": "...", "priority": "stat", "kind": "specimen", "units": 1,
     "handling": {"cold_chain": false, "controlled": false, "max_transit_s": 7200},
     "earliest_s": 1764060000, "deadline_s": 1764060900, "requester": "lab"}

Times are campus-clock seconds: the driver maps simulation time 0 to "now" when it starts.

With ``via="fhir"`` each ward request goes instead as the hospital information system would send
it: a FHIR transaction Bundle with the ServiceRequest / MedicationRequest behind it, POSTed to
``{target}/fhir/`` (``hospital_ops.fhir.twin``); requests without a ward end (ED, supplies) stay on
``/api/v1/tasks``. ``token`` is sent as ``Authorization: Bearer`` (FHIR needs a token of kind ``his``).
Only ``urllib`` (standard library) is used, so it has no dependency the stack does not have.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sim.demand import Request

TASKS_PATH = "/api/v1/tasks"
FHIR_PATH = "/fhir/"


class StackUnavailable(RuntimeError):
    """The running stack cannot be reached at the target URL."""


@dataclass(frozen=True, slots=True)
class Posted:
    request: Request
    status: int
    body: str


def tasks_url(target: str) -> str:
    parsed = urllib.parse.urlparse(target)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"--target: expected an http(s) URL such as http://localhost:8000, got {target!r}")
    return target.rstrip("/") + TASKS_PATH


def check_reachable(target: str, timeout_s: float = 3.0) -> None:
    """Raise :class:`StackUnavailable` unless something answers HTTP at ``target``."""
    url = target.rstrip("/") + "/"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return  # it answered (404, 401 …): the stack is there
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StackUnavailable(
            f"sim live needs the running stack: nothing answers at {target} ({reason}). "
            "Start the dashboard/API (hospital-ops demo) and try again, or point --target at it."
        ) from None


def post_json(
    url: str, payload: dict[str, object], timeout_s: float = 10.0, *, token: str | None = None
) -> tuple[int, str]:
    data = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/fhir+json" if url.endswith(FHIR_PATH) else "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class LiveDriver:
    """POSTs timestamped requests in (scaled) real time."""

    def __init__(
        self,
        target: str,
        speed: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        post: Callable[[str, dict[str, object]], tuple[int, str]] | None = None,
        via: str = "rest",
        token: str | None = None,
        campus_now: Callable[[], float] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"--speed: must be positive, got {speed}")
        if via not in ("rest", "fhir"):
            raise ValueError(f"--via: expected rest or fhir, got {via!r}")
        self.url = tasks_url(target)
        self.fhir_url = target.rstrip("/") + FHIR_PATH
        self.via = via
        if post is None:
            post = (lambda url, body: post_json(url, body, token=token)) if token else post_json
        self.speed = speed
        #: The running stack's campus clock (hospital_ops.clock); None = the wall clock (scale 1).
        self._campus_now = campus_now
        self._sleep = sleep
        self._clock = clock
        self._post = post

    def run(self, requests: Iterable[Request], limit: int | None = None) -> Iterator[Posted]:
        t0_wall = self._clock()
        clock0 = int(self._campus_now()) if self._campus_now is not None else int(t0_wall)
        first: float | None = None
        for i, r in enumerate(requests):
            if limit is not None and i >= limit:
                return
            if first is None:
                first = r.at_s
            due = t0_wall + (r.at_s - first) / self.speed
            delay = due - self._clock()
            if delay > 0:
                self._sleep(delay)
            # campus clock: the request's simulated time, shifted so the first one is "now"
            payload = r.to_json(clock0 - first)
            url = self.url
            if self.via == "fhir":
                from hospital_ops.fhir.twin import delivery_as_fhir

                bundle = delivery_as_fhir(payload, f"{clock0}-{i}")
                if bundle is not None:
                    url, payload = self.fhir_url, bundle
            status, body = self._post(url, payload)
            yield Posted(r, status, body)
