"""A real web app (``hospital-ops serve`` in a subprocess: own temp dir, port, SQLite file and
generated secrets) and Debian's Chromium driven by Playwright. Tests here are marked ``e2e``."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_dashboard.devserver import ServerProcess, seed, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = {
    "nurse.li": ("ward_staff", "nurse-password-1"),
    "manager.wu": ("operations_manager", "manager-password-1"),
    "lab.qian": ("laboratory", "laboratory-password-1"),
}


class Api:
    """JSON over HTTP with a bearer token, as the robot side and scripts call the app."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}")
    root = Path(tempfile.mkdtemp(prefix="hops-e2e-"))
    tokens = seed(root, USERS, {"robot-bridge": "bridge", "hospital-system": "system"})
    srv = start_server(root, name="e2e")
    try:
        yield srv, tokens
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_for(browser: Any, server: tuple[ServerProcess, dict[str, str]]) -> Iterator[Any]:
    """``page_for(user, viewport)``: a fresh browser context signed in as ``user``."""
    contexts: list[Any] = []
    srv, _ = server

    def make(user: str, width: int = 1280, height: int = 900, locale: str = "en-GB") -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        page.goto(srv.url + "/login")
        page.fill("#username", user)
        page.fill("#password", USERS[user][1])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    for ctx in contexts:
        ctx.close()
