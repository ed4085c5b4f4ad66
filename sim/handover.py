"""Simulated staff for live mode: the pharmacist, the lab technician and the ward nurse who hand a
delivery to the robot and take it out again, with the task's PIN, through the stack's public API.

Live mode creates tasks over REST and gets each task's PIN back once (as a ward's requester
would). :class:`StaffAgent` keeps those PINs and watches ``GET /api/v1/robots``: when a robot waits
for a hand-over of one of its tasks, a person "arrives" after a realistic delay (campus seconds,
scaled by the stack's speed) and calls ``POST /api/v1/tasks/<id>/handover``. So the load test
drives the same path as the staff's tablets: web app → Socket.IO bridge → the robot's drawer.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Get = Callable[[str], tuple[int, Any]]
Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


def _request(url: str, token: str | None, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    data = None
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method="POST" if payload is not None else "GET", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None


@dataclass
class StaffAgent:
    """Hands over the live mode's own tasks when their robot waits (see the module doc)."""

    target: str
    token: str | None = None
    #: Times faster than real time (the stack's time scale): delays are campus seconds.
    speed: float = 1.0
    #: How long staff take to come to a waiting robot, campus seconds (uniform).
    delay_s: tuple[float, float] = (30.0, 150.0)
    seed: int = 0
    get: Get | None = None
    post: Post | None = None
    clock: Callable[[], float] = time.monotonic
    handed_over: int = 0
    refused: int = 0
    #: Set when the API refuses this token the hand-over (wrong role): the agent stops trying.
    disabled: str = ""
    _pins: dict[str, str] = field(default_factory=dict)
    _due: dict[tuple[str, str], float] = field(default_factory=dict)
    _done: set[tuple[str, str]] = field(default_factory=set)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed: must be positive, got {self.speed}")
        self._rng = random.Random(self.seed)
        base = self.target.rstrip("/") + "/api/v1"
        self._robots_url = base + "/robots"
        self._task_url = base + "/tasks/"
        if self.get is None:
            self.get = lambda url: _request(url, self.token)
        if self.post is None:
            self.post = lambda url, body: _request(url, self.token, body)

    def remember(self, task_id: str, pin: str) -> None:
        """A task this agent's requesters created, with the PIN the API returned once."""
        with self._lock:
            self._pins[task_id] = pin

    def waiting(self) -> int:
        """Tasks remembered and not yet handed over at both ends."""
        with self._lock:
            return sum(1 for t in self._pins if (t, "dropoff") not in self._done)

    def poll_once(self) -> int:
        """Look at the fleet once; hand over what is due. Returns the hand-overs made."""
        if self.disabled:
            return 0
        assert self.get is not None and self.post is not None
        status, robots = self.get(self._robots_url)
        if status != 200 or not isinstance(robots, list):
            return 0
        now = self.clock()
        made = 0
        for r in robots:
            task = r.get("current_task_id") if isinstance(r, dict) else None
            if not task or r.get("phase") != "awaiting_handover":
                continue
            with self._lock:
                pin = self._pins.get(task)
            if pin is None:
                continue  # somebody else's task (a real nurse at the dispatch page)
            end = "dropoff" if task in (r.get("on_board") or []) else "pickup"
            key = (task, end)
            if key in self._done:
                continue
            due = self._due.setdefault(key, now + self._rng.uniform(*self.delay_s) / self.speed)
            if now < due:
                continue
            code, body = self.post(self._task_url + task + "/handover", {"end": end, "method": "pin", "secret": pin})
            if code == 200:
                self._done.add(key)
                self.handed_over += 1
                made += 1
                if end == "dropoff":
                    with self._lock:
                        self._pins.pop(task, None)
            elif code in (401, 403) and "secret" not in json.dumps(body or {}):
                self.disabled = f"the API refused the hand-over ({code}): the token needs a staff role"
            else:
                self.refused += 1
                self._due[key] = now + 5.0 / self.speed  # try again shortly (e.g. robot still docking)
        return made

    def run(self, stop: threading.Event, period_s: float = 1.0) -> None:
        """Poll until ``stop`` is set (a thread of ``sim live``)."""
        while not stop.is_set():
            with contextlib.suppress(OSError):  # the stack is restarting; keep trying
                self.poll_once()
            stop.wait(period_s)
