"""End to end in Debian's Chromium (Playwright) against a real server started here: the fake
camera plays a y4m clip made at test time from the shared face photos (a left head turn, the
liveness challenge the server asks for).

- an enrolled patient checks in by face and gets a result (screenshot checked not blank);
- a stranger is offered registration (and enrolled with consent);
- a red-flag case shows "a nurse is coming" and the alert reaches a staff Socket.IO client.

Own temp dir, free port, SQLite file and generated secrets; generous waits, no wall-clock asserts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hospital_ops.domain import Patient, Sex
from hospital_ops.store import Store
from triage_kiosk.identity import Challenge, Consent, FaceEngine, IdentityService, TemplateCipher, new_key
from triage_kiosk.identity.fallback import ResidentIdHasher
from triage_kiosk.identity.keys import decode_aes_key
from triage_kiosk.identity.sqlstore import SqlTemplateStore, StoreAuditLog
from triage_kiosk.identity.synthetic import live_sequence
from triage_kiosk.identity.video import write_y4m

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
STAFF_PASSWORD = "staff password 123"
#: Resident id of the red-flag patient (valid check character), registered at set-up.
RED_FLAG_ID = "11010519900307001" + "7"
WAIT_MS = 120_000
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass
class Server:
    base: str
    kiosk_token: str
    manager_token: str
    store_url: str
    clips: dict[str, Path]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clip(frame: np.ndarray, engine: FaceEngine, path: Path) -> Path:
    """2 s still, a slow left head turn and back (~1 s), looping: 4:2:0 y4m at 15 fps."""
    seq = live_sequence(frame, Challenge.TURN_LEFT, engine)
    still, turn = seq[0], seq[3:]
    frames = [still] * 30 + [f for f in turn for _ in range(2)]
    return write_y4m(path, frames, fps=15)


@pytest.fixture(scope="module")
def server(kiosk_photo: Callable[[str], np.ndarray], face_engine: FaceEngine) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    pytest.importorskip("playwright.sync_api")
    root = Path(tempfile.mkdtemp(prefix="kiosk-e2e-"))
    url = f"sqlite:///{root / 'ops.sqlite3'}"
    secrets_env = {
        "HOSPITAL_OPS_SECRET_KEY": new_key(),
        "HOSPITAL_OPS_BIOMETRIC_KEY": new_key(),
        "HOSPITAL_OPS_ID_HASH_KEY": new_key(),
        "HOSPITAL_OPS_QR_TOKEN_KEY": new_key(),
        "HOSPITAL_OPS_VISIT_KEY": new_key(),
    }
    with Store.open(url) as store:
        store.add_patient(
            Patient(id="P-OBAMA", mrn="MRN-O", name="Barack O.", birth_year=1961, sex=Sex.MALE), actor="setup"
        )
        identity = IdentityService(
            TemplateCipher(decode_aes_key(secrets_env["HOSPITAL_OPS_BIOMETRIC_KEY"])),
            SqlTemplateStore(store),
            StoreAuditLog(store),
            engine=face_engine,
        )
        consent = Consent("P-OBAMA", "face-id-2026-11", datetime.now(UTC), "self", "desk")
        identity.enrol("P-OBAMA", [kiosk_photo("obama/obama1.jpg")], consent, actor="nurse-1")
        kiosk_token, _ = store.issue_device_token("KIOSK-ED-E2E", "kiosk", actor="setup")
        manager_token, _ = store.issue_device_token("ops-script", "operations_manager", actor="setup")
        store.add_user("manager1", "operations_manager", STAFF_PASSWORD, actor="setup")
        hasher = ResidentIdHasher(secrets_env["HOSPITAL_OPS_ID_HASH_KEY"].encode("utf-8"))
        store.add_patient(
            Patient(
                id="P-RED",
                mrn="MRN-R",
                name="Zhang Wei",
                birth_year=1960,
                sex=Sex.MALE,
                id_number_hash=hasher.hash(RED_FLAG_ID),
            ),
            actor="setup",
        )
    clips = {
        "enrolled": _clip(kiosk_photo("obama/obama2.jpg"), face_engine, root / "enrolled.y4m"),
        "stranger": _clip(kiosk_photo("kit_harington/kit1.jpg"), face_engine, root / "stranger.y4m"),
    }
    port = _free_port()
    env = {
        **os.environ,
        **secrets_env,
        "HOSPITAL_OPS_DATA_DIR": str(root),
        "HOSPITAL_OPS_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.kiosk.e2e_server", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to ~60 s on a busy machine
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(root / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(base + "/kiosk/activate", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not answer")
        yield Server(base, kiosk_token, manager_token, url, clips)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def browser_for(server: Server) -> Iterator[Callable[[str | None], Any]]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browsers: list[Any] = []

    def launch(clip: str | None) -> Any:
        args = list(FLAGS)
        if clip is not None:
            args.append(f"--use-file-for-fake-video-capture={server.clips[clip]}")
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        browsers.append(browser)
        page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server.base + "/kiosk/activate")
        page.fill("#token", server.kiosk_token)
        page.click("button[type=submit]")
        page.wait_for_selector("#start")
        return page

    yield launch
    for b in browsers:
        b.close()
    pw.stop()


def _face_check_in(page: Any) -> None:
    page.click("#start")
    page.check("input[name=consent][value=face]")
    page.click("#next")
    page.wait_for_selector("#camera[data-ready='1']")
    page.click("#capture")  # the screen retries by itself with the next challenge until it moves on


def _answer_and_finish(page: Any, *, complaint: str, vitals: dict[str, str], questions: dict[str, str]) -> None:
    page.wait_for_url("**/kiosk/complaint")
    page.check(f"input[name=complaints][value={complaint}]")
    page.click("#next")
    page.wait_for_url("**/kiosk/questions")
    for name, value in questions.items():
        page.check(f"input[name={name}][value='{value}']")
    page.click("#next")
    page.wait_for_url("**/kiosk/vitals")
    for name, value in vitals.items():
        page.fill(f"#{name}", value)
    page.click("#next")
    page.wait_for_url("**/kiosk/result")


QUESTIONS = {"onset": "3", "pain": "2", "injury": "no", "arrival": "walk_in", "mental": "alert"}
VITALS = {
    "heart_rate": "76",
    "resp_rate": "15",
    "systolic_bp": "124",
    "diastolic_bp": "78",
    "temperature_c": "36.7",
    "spo2": "98",
}


def test_enrolled_patient_checks_in_by_face_and_gets_a_result(
    server: Server, browser_for: Callable[[str | None], Any], tmp_path: Path
) -> None:
    """The fake camera shows the enrolled patient turning the head: identified, checked in by
    face, triaged; the result screen shows level, destination and queue number and is not blank."""
    page = browser_for("enrolled")
    _face_check_in(page)
    _answer_and_finish(page, complaint="sore_throat", vitals=VITALS, questions=QUESTIONS)
    level = page.inner_text("#level").strip()
    assert level in {"1", "2", "3", "4", "5"}
    assert page.inner_text("#queue").strip() and page.inner_text("#destination").strip()
    assert "Barack O." in page.content()
    shot = tmp_path / "result.png"
    for attempt in range(3):  # headless Chromium now and then fails a capture on a loaded machine
        try:
            page.screenshot(path=str(shot), full_page=True)
            break
        except Exception:
            if attempt == 2:
                raise
            page.wait_for_timeout(1000)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[0] > 300
    assert float(img.std()) > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    with Store.open(server.store_url) as store:
        assert any(c.method.value == "face" for c in store.check_ins(patient_id="P-OBAMA"))
        assert store.triage_results(patient_id="P-OBAMA")
        attempts = [
            e.detail["status"] + "/" + str(e.detail["liveness"]) for e in store.audit_log(action="kiosk.face_attempt")
        ]
    print(f"face attempts until matched: {attempts}")


def test_stranger_is_offered_registration(server: Server, browser_for: Callable[[str | None], Any]) -> None:
    """A live face nobody has enrolled: the registration screen with the face-enrolment consent;
    registering with consent stores the template and moves on to the complaint."""
    page = browser_for("stranger")
    _face_check_in(page)
    page.wait_for_url("**/kiosk/register")
    assert page.is_visible("input[name=enrol_face]")
    page.fill("#name", "Kit H.")
    page.fill("#birth_year", "1986")
    page.check("input[name=sex][value=male]")
    page.check("input[name=enrol_face]")
    page.check("input[name=confirm]")
    page.click("#next")
    page.wait_for_url("**/kiosk/complaint")
    assert "face template is saved" in page.content()
    with Store.open(server.store_url) as store:
        [ci] = [c for c in store.check_ins() if c.patient_id != "P-OBAMA"]
        assert SqlTemplateStore(store).get(ci.patient_id) is not None


def test_red_flag_alerts_staff_live(server: Server, browser_for: Callable[[str | None], Any]) -> None:
    """Chest pain with low oxygen (ID-number check-in, no camera): "a nurse is coming" on the
    kiosk, and the alert reaches a signed-in staff client on the /ops Socket.IO channel and REST."""
    import requests
    import socketio as sio_client

    http = requests.Session()
    login_page = http.get(server.base + "/login", timeout=30).text
    csrf = login_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = http.post(
        server.base + "/login",
        data={"username": "manager1", "password": STAFF_PASSWORD, "csrf_token": csrf},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:500]
    received: list[dict[str, Any]] = []
    staff = sio_client.Client(http_session=http)
    staff.on("alert", received.append, namespace="/ops")
    staff.connect(server.base, namespaces=["/ops"], transports=["polling"], wait_timeout=30)
    try:
        page = browser_for(None)
        page.click("#start")
        page.check("input[name=consent][value=no_face]")
        page.click("#next")
        page.wait_for_url("**/kiosk/fallback")
        page.fill("#id_number", RED_FLAG_ID)
        page.click("#next")
        _answer_and_finish(
            page,
            complaint="chest_pain",
            vitals={**VITALS, "spo2": "86", "heart_rate": "126"},
            questions={**QUESTIONS, "pain": "8", "onset": "0.5"},
        )
        nurse = page.inner_text("#nurse-coming")
        assert "A nurse is coming" in nurse and "护士马上就来" in nurse
        for _ in range(600):  # generous: the push is immediate, the watcher re-sends within a second
            if any(a.get("subject") == "patient:P-RED" for a in received):
                break
            time.sleep(0.1)
        assert any(a.get("subject") == "patient:P-RED" and a.get("kind") == "triage.red_flag" for a in received), (
            received
        )
    finally:
        staff.disconnect()
    req = urllib.request.Request(
        server.base + "/api/v1/alerts?open=true", headers={"Authorization": f"Bearer {server.manager_token}"}
    )
    alerts = json.loads(urllib.request.urlopen(req, timeout=30).read())
    assert any(a["subject"] == "patient:P-RED" and a["severity"] == "critical" for a in alerts)
