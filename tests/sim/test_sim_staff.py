"""Simulated staff in live mode: they hand over only their own tasks, at the right end, after a
delay, with the task's PIN, and stop (saying why) when the token may not hand over."""

from __future__ import annotations

from typing import Any

from sim.handover import StaffAgent


class FakeStack:
    def __init__(self) -> None:
        self.robots: list[dict[str, Any]] = []
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.answer = (200, {"ok": True})

    def get(self, url: str) -> tuple[int, Any]:
        assert url.endswith("/api/v1/robots")
        return 200, self.robots

    def post(self, url: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.posts.append((url, body))
        return self.answer


def agent(stack: FakeStack, now: list[float]) -> StaffAgent:
    return StaffAgent(
        "http://stack", "tok", speed=10.0, delay_s=(60.0, 60.0), get=stack.get, post=stack.post, clock=lambda: now[0]
    )


def test_staff_come_after_the_delay_and_hand_over_pickup_then_dropoff_with_the_pin() -> None:
    stack, now = FakeStack(), [0.0]
    a = agent(stack, now)
    a.remember("T1", "482913")
    stack.robots = [{"id": "R1", "phase": "awaiting_handover", "current_task_id": "T1", "on_board": []}]
    assert a.poll_once() == 0  # the pharmacist is on the way: 60 campus s = 6 wall s at 10x
    now[0] = 6.0
    assert a.poll_once() == 1
    assert stack.posts[-1] == (
        "http://stack/api/v1/tasks/T1/handover",
        {"end": "pickup", "method": "pin", "secret": "482913"},
    )
    assert a.poll_once() == 0  # not twice
    stack.robots = [{"id": "R1", "phase": "awaiting_handover", "current_task_id": "T1", "on_board": ["T1"]}]
    now[0] = 20.0
    a.poll_once()
    now[0] = 30.0
    assert a.poll_once() == 1
    assert stack.posts[-1][1]["end"] == "dropoff"
    assert a.waiting() == 0 and a.handed_over == 2


def test_other_peoples_tasks_and_moving_robots_are_left_alone() -> None:
    stack, now = FakeStack(), [100.0]
    a = agent(stack, now)
    a.remember("T1", "1111")
    stack.robots = [
        {"id": "R1", "phase": "travelling", "current_task_id": "T1", "on_board": []},
        {"id": "R2", "phase": "awaiting_handover", "current_task_id": "T-nurse", "on_board": []},
    ]
    for t in (100.0, 200.0, 300.0):
        now[0] = t
        assert a.poll_once() == 0
    assert stack.posts == []


def test_a_refused_handover_is_retried_and_a_token_without_the_role_stops_the_staff() -> None:
    stack, now = FakeStack(), [0.0]
    a = agent(stack, now)
    a.remember("T1", "1111")
    stack.robots = [{"id": "R1", "phase": "awaiting_handover", "current_task_id": "T1", "on_board": []}]
    stack.answer = (409, {"error": {"message": "not ready"}})
    assert a.poll_once() == 0  # seen waiting at t=0: staff due at t=6
    now[0] = 10.0
    assert a.poll_once() == 0 and a.refused == 1
    stack.answer = (403, {"error": {"message": "role system may not do this"}})
    now[0] = 20.0
    a.poll_once()
    assert "staff role" in a.disabled
    assert a.poll_once() == 0
