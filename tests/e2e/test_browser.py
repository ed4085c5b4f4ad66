"""The pages in a real Chromium against a real server: ward request, live dashboard, zh, screenshot."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from ops_dashboard.devserver import ServerProcess
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e


class ClickCounter:
    """Counts the clicks a person makes (Playwright clicks through this wrapper)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.n = 0

    def click(self, selector: str) -> None:
        self.n += 1
        self.page.click(selector)


def test_nurse_requests_stat_specimen_pickup_in_three_clicks(
    page_for: Any, server: tuple[ServerProcess, dict[str, str]]
) -> None:
    """A ward nurse signs in, lands on her ward's dispatch page, and with at most 3 clicks has
    a STAT specimen pickup requested: the page shows the promised arrival and a 6-digit PIN for
    the receiver, and the request is in the ward's history (stored: the API returns it)."""
    srv, tokens = server
    page = page_for("nurse.li")
    assert page.url.endswith("/dispatch")
    clicks = ClickCounter(page)
    clicks.click("label.prio-stat")  # specimen to the lab is the ward's default
    clicks.click("#send")
    page.wait_for_selector("#created")
    assert clicks.n <= 3
    pin = page.inner_text("#created-pin").strip()
    assert re.fullmatch(r"\d{6}", pin)
    promised = page.inner_text("#created-promised")
    assert re.search(r"\d{2}:\d{2}", promised), promised
    task_id = page.get_attribute("#created", "data-task")
    assert page.is_visible(f"#task-{task_id}")
    status, body = Api(srv.url, tokens["hospital-system"]).call("GET", f"/api/v1/tasks/{task_id}")
    assert status == 200 and body["priority"] == "stat" and body["kind"] == "specimen"
    assert body["dropoff"] == "MT-02-LAB"


def test_dashboard_tile_and_task_list_update_live(page_for: Any, server: tuple[ServerProcess, dict[str, str]]) -> None:
    """The manager's dashboard changes without a reload when the robot side and the hospital
    system act through the REST API: a new STAT task raises the open-task tile and appears in
    the list; the bridge's fleet report moves a robot onto the map and the busy tile; cancelling
    the task changes its row and lowers the tile."""
    srv, tokens = server
    page = page_for("manager.wu")
    assert page.url.endswith("/dashboard")
    page.wait_for_selector("#live-state.on")
    his = Api(srv.url, tokens["hospital-system"])
    bridge = Api(srv.url, tokens["robot-bridge"])
    before = int(page.inner_text('#tile-open [data-k="open_tasks.total"]'))

    status, task = his.call("POST", "/api/v1/tasks", {"ward": "T3-10", "priority": "stat", "kind": "specimen"})
    assert status == 201
    page.wait_for_selector(f"#dt-{task['id']}", timeout=10_000)
    page.wait_for_function(
        "n => +document.querySelector('#tile-open [data-k=\"open_tasks.total\"]').textContent === n", arg=before + 1
    )

    status, _ = bridge.call(
        "POST",
        "/api/v1/fleet/report",
        {"robots": [{"id": "R42", "mode": "busy", "location": "T3-10-NS", "battery_pct": 77}], "lifts": []},
    )
    assert status == 202
    page.wait_for_function("() => +document.querySelector('[data-k=\"robots.busy\"]').textContent >= 1")
    page.select_option("#map-building", "T3")
    page.select_option("#map-floor", "10")
    page.wait_for_selector('#map g.robot[data-id="R42"]')
    page.wait_for_selector('#robots tr[data-id="R42"]', state="attached")  # the map's table alternative

    status, _ = his.call("POST", f"/api/v1/tasks/{task['id']}/cancel", {"reason": "test"})
    assert status == 200
    page.wait_for_selector(f'#dt-{task["id"]}[data-status="cancelled"]')
    page.wait_for_function(
        "n => +document.querySelector('#tile-open [data-k=\"open_tasks.total\"]').textContent === n", arg=before
    )


def test_switch_to_chinese(page_for: Any) -> None:
    """The language link switches the dashboard to Chinese (text and the page's lang), and the
    choice sticks on the next page."""
    page = page_for("manager.wu")
    page.click("text=中文")
    page.wait_for_selector("html[lang='zh-CN']")
    assert "运营看板" in page.inner_text("h1")
    assert "待完成配送" in page.inner_text("#tile-open h2")
    page.goto(page.url.split("?")[0])
    assert page.get_attribute("html", "lang") == "zh-CN"


def test_dashboard_screenshot_is_not_blank_on_a_tablet(page_for: Any) -> None:
    """On a tablet-sized screen (768×1024) the dashboard renders real content: the screenshot
    has many distinct colours, the page does not scroll sideways, and every control has a label."""
    from PIL import Image

    page = page_for("manager.wu", width=768, height=1024)
    page.wait_for_selector("#live-state.on")
    png = page.screenshot(full_page=True)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = img.getcolors(maxcolors=1_000_000) or []
    assert img.size[0] == 768 and len(colours) > 50
    assert page.evaluate("document.documentElement.scrollWidth") <= 768 + 1
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
            .map(e => e.id || e.name || e.outerHTML.slice(0, 60))"""
    )
    assert unlabelled == []
    assert page.locator("main").count() == 1 and page.locator("header nav").count() == 1


def test_keyboard_reaches_the_send_button_and_landmarks_exist(page_for: Any) -> None:
    """Accessibility basics: a skip link first, main/nav landmarks, every form control labelled,
    and the dispatch form can be sent with the keyboard alone."""
    page = page_for("nurse.li")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("main#content").count() == 1 and page.locator("nav").count() == 1
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
    )
    assert unlabelled == []
    page.focus("input[name=priority][value=urgent]")
    page.keyboard.press("Space")
    page.focus("#send")
    page.keyboard.press("Enter")
    page.wait_for_selector("#created")
    assert "Urgent" in page.inner_text("#created")


def test_replay_of_a_twin_run(page_for: Any, tmp_path: Any) -> None:
    """Loading a replay file shows the run hour by hour: the slider moves through the hours and
    the replay tiles show that hour's values; a KPI-only results.json is explained, not replayed."""
    replay = {
        "format": "hospital-ops.replay/1",
        "scenario": "small",
        "replications": 1,
        "start_h": 5.0,
        "step_s": 3600,
        "series": {"backlog_tasks": [3.0, 4.5, 6.25], "robots_busy": [5.0, 6.0, 9.0], "queue_lift": [0.0, 0.5, 0.0]},
        "kpis": {"stat_on_time_pct": {"mean": 97.0, "ci95_low": None, "ci95_high": None}},
    }
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(replay))
    page = page_for("manager.wu")
    page.set_input_files("#replay-file", str(path))
    page.wait_for_selector("#replay-ui:not([hidden])")
    assert "05:00" in page.inner_text("#replay-clock")
    assert "3.0" in page.inner_text("#replay-tiles")
    page.fill("#replay-hour", "2")
    page.dispatch_event("#replay-hour", "input")
    assert "07:00" in page.inner_text("#replay-clock")
    assert "6.3" in page.inner_text("#replay-tiles") or "6.2" in page.inner_text("#replay-tiles")
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"scenario": "small", "kpis": replay["kpis"]}))
    page.set_input_files("#replay-file", str(results))
    page.wait_for_selector("#replay-ui[hidden]", state="attached")
    assert "sim.replay_export" in page.inner_text("#replay-msg")


def test_alert_arrives_live_and_is_acknowledged(page_for: Any, server: tuple[ServerProcess, dict[str, str]]) -> None:
    """An alert raised by a device appears on the open dashboard without a reload; the
    manager's Acknowledge button (a CSRF-protected API call from the page) clears it, and the
    API records who acknowledged it."""
    srv, tokens = server
    page = page_for("manager.wu")
    page.wait_for_selector("#live-state.on")
    his = Api(srv.url, tokens["hospital-system"])
    status, alert = his.call(
        "POST", "/api/v1/alerts", {"kind": "drawer.locked_out", "message": "3 wrong PINs", "subject": "robot:R07"}
    )
    assert status == 201
    item = f'#alerts li[data-id="{alert["id"]}"]'
    page.wait_for_selector(item)
    page.click(f"{item} button.ack")
    page.wait_for_selector(item, state="detached")
    page_status = page.evaluate(
        "async (id) => { const r = await fetch('/api/v1/alerts?limit=50'); const a = await r.json();"
        " return a.find(x => x.id === id).acknowledged_by; }",
        alert["id"],
    )
    assert page_status == "manager.wu"
