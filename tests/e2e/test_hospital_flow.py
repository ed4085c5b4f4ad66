"""The whole hospital in one test: a ward nurse requests a STAT specimen pickup in Chromium, a
simulated robot over ROS 2 (its own process, real DDS on loopback) fetches it, the nurse loads it
with the PIN, the laboratory takes it out with the same PIN, and the manager's dashboard follows
live. The stack is `hospital-ops up --with web --with bridge` in its own temp dir, port and
ROS_DOMAIN_ID; nothing here asserts wall-clock times."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")

from ops_dashboard.devserver import free_port, seed
from tests.e2e.conftest import CHROMIUM, Api

pytestmark = [pytest.mark.e2e, pytest.mark.ros, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
USERS = {
    "nurse.zhao": ("ward_staff", "nurse-password-2"),
    "lab.sun": ("laboratory", "laboratory-password-2"),
    "manager.he": ("operations_manager", "manager-password-2"),
}


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, stack: Stack) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert stack.proc.poll() is None, f"the stack stopped while waiting for {what}:\n{stack.tail()}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{stack.tail()}")


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens = seed(root, USERS, {"ros-bridge": "bridge", "watcher": "operations_manager"})
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_OPS_")}
        env.update(
            {
                "HOSPITAL_OPS_DATA_DIR": str(root),
                "HOSPITAL_OPS_BRIDGE_TOKEN": self.tokens["ros-bridge"],
                "HOSPITAL_OPS_LOG_LEVEL": "WARNING",
                "ROS_DOMAIN_ID": str(150 + os.getpid() % 80),
                "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            }
        )
        cmd = [sys.executable, "-m", "hospital_ops.cli", "up", "--robots", "2", "--time-scale", "30"]
        cmd += ["--with", "web", "--with", "bridge", "--http-port", str(self.port), "--log-dir", str(root / "logs")]
        self.out = (root / "up.out").open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT)
        self.api = Api(self.url, self.tokens["watcher"])

    def tail(self) -> str:
        logs = sorted((self.root / "logs").glob("*.log"))
        parts = [(self.root / "up.out").read_text(errors="replace")[-2000:]]
        parts += [f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs]
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.out.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def sign_in(browser: Any, stack: Stack, user: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    page.goto(stack.url + "/login")
    page.fill("#username", user)
    page.fill("#password", USERS[user][1])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def get(stack: Stack, path: str) -> tuple[int, Any]:
    """GET as the watcher; (0, None) while the web app is still starting."""
    try:
        return stack.api.call("GET", path)
    except OSError:
        return 0, None


def robot_waiting_for(stack: Stack, task_id: str, on_board: bool) -> bool:
    status, robots = get(stack, "/api/v1/robots")
    if status != 200:
        return False
    return any(
        r.get("phase") == "awaiting_handover"
        and r.get("current_task_id") == task_id
        and (task_id in r.get("on_board", [])) == on_board
        for r in robots
    )


def hand_over(page: Any, stack: Stack, task_id: str, pin: str) -> None:
    page.goto(stack.url + "/handover")
    page.fill(f"#secret-{task_id}", pin)
    page.click(f'form.handover[data-task="{task_id}"] button[type=submit]')


def test_nurse_request_is_fetched_by_a_ros_robot_and_closed_by_the_receivers_pin(stack: Stack, browser: Any) -> None:
    wait_for("the web app", lambda: get(stack, "/api/v1/robots")[0] == 200, 120, stack)
    wait_for("both robots to report", lambda: len(get(stack, "/api/v1/robots")[1]) >= 2, 120, stack)

    manager = sign_in(browser, stack, "manager.he")
    assert manager.url.endswith("/dashboard")
    manager.wait_for_selector("#live-state.on")

    nurse = sign_in(browser, stack, "nurse.zhao")
    assert nurse.url.endswith("/dispatch")
    nurse.click("label.prio-stat")  # a specimen to the laboratory is the ward's default
    nurse.click("#send")
    nurse.wait_for_selector("#created")
    task_id = nurse.get_attribute("#created", "data-task")
    pin = nurse.inner_text("#created-pin").strip()
    assert re.fullmatch(r"\d{6}", pin)
    assert re.search(r"\d{2}:\d{2}", nurse.inner_text("#created-promised"))
    manager.wait_for_selector(f"#dt-{task_id}")

    # the scheduler node plans it onto a robot, which comes to the ward: the nurse sees its ETA
    wait_for("a robot at the ward", lambda: robot_waiting_for(stack, task_id, on_board=False), 240, stack)
    status, task = get(stack, f"/api/v1/tasks/{task_id}")
    assert status == 200 and task["status"] == "planned" and task["robot_id"]
    manager.wait_for_selector(f'#dt-{task_id}[data-status="planned"]')

    hand_over(nurse, stack, task_id, "000000" if pin != "000000" else "111111")  # a wrong PIN first
    nurse.wait_for_function("() => document.getElementById('handover-msg').textContent.trim().length > 0")
    assert get(stack, f"/api/v1/tasks/{task_id}")[1]["status"] == "planned"
    hand_over(nurse, stack, task_id, pin)
    wait_for("the pickup", lambda: get(stack, f"/api/v1/tasks/{task_id}")[1]["status"] == "picked_up", 60, stack)
    manager.wait_for_selector(f'#dt-{task_id}[data-status="picked_up"]')

    wait_for("the robot at the laboratory", lambda: robot_waiting_for(stack, task_id, on_board=True), 240, stack)
    lab = sign_in(browser, stack, "lab.sun")
    hand_over(lab, stack, task_id, pin)
    wait_for("the delivery", lambda: get(stack, f"/api/v1/tasks/{task_id}")[1]["status"] == "delivered", 60, stack)
    manager.wait_for_selector(f'#dt-{task_id}[data-status="delivered"]')

    from hospital_ops.store import Store
    from ops_dashboard.devserver import store_url

    with Store.open(store_url(stack.root)) as store:
        kinds = [e.kind.value for e in store.custody_events(task_id=task_id)]
        history = [h.to_status.value for h in store.task_history(task_id)]
    assert kinds == ["denied", "loaded", "delivered"]  # the wrong PIN is on the record too
    assert history == ["requested", "planned", "picked_up", "delivered"]
