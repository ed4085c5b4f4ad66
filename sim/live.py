"""Live mode: replay a scenario's delivery demand against a running stack, K times faster than real.

The demand comes from :func:`sim.demand.delivery_requests` (the twin's own generator: wards,
pharmacy, lab and ED requests with their times). :class:`LiveDriver` sleeps between requests
(``Δt / speed``) and POSTs each one as JSON to ``{target}/api/v1/tasks``::

    {"pickup": "...", "dropoff": "...", "priority": "stat", "kind": "specimen", "units": 1,
     "handling": {"cold_chain": false, "controlled": false, "max_transit_s": 7200},
     "earliest_s": 1764060000, "deadline_s": 1764060900, "requester": "lab"}

Times are campus-clock seconds: the driver maps simulation time 0 to "now" when it starts.
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


def post_json(url: str, payload: dict[str, object], timeout_s: float = 10.0) -> tuple[int, str]:
    data = json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
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
        post: Callable[[str, dict[str, object]], tuple[int, str]] = post_json,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"--speed: must be positive, got {speed}")
        self.url = tasks_url(target)
        self.speed = speed
        self._sleep = sleep
        self._clock = clock
        self._post = post

    def run(self, requests: Iterable[Request], limit: int | None = None) -> Iterator[Posted]:
        t0_wall = self._clock()
        clock0 = int(t0_wall)
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
            status, body = self._post(self.url, r.to_json(clock0 - first))
            yield Posted(r, status, body)
