"""Kiosk visits are shared by every web worker: a visit started on one app instance continues on
another over the same database, the state is sealed at rest (AES-256-GCM, bound to the visit and
kiosk), never holds camera frames, and is gone after the time-to-live for every worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from hospital_ops.config import Settings
from hospital_ops.domain import Patient
from hospital_ops.store import Store
from hospital_ops.store import kiosk_visits as rows
from ops_dashboard import create_app
from tests.kiosk.conftest import QUESTIONS_OK, VITALS_OK, go, kctx, start_visit
from triage_kiosk.identity import new_key
from triage_kiosk.web.service import VISIT_TTL_S, Visit, VisitStore
from triage_kiosk.web.visits import SqlVisitStore, VisitCipher, visit_from_state, visit_state


class Clock:
    def __init__(self, now: float = 1_795_680_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    c = Clock()
    kctx(app).clock = c
    kctx(app).visits.clock = c  # type: ignore[attr-defined]
    return c


@pytest.fixture
def other_app(tmp_path: Path, settings: Settings, clock: Clock) -> Iterator[Flask]:
    """A second app instance (another web worker) on the same database file, same settings."""
    store_b = Store.open(
        f"sqlite:///{tmp_path / 'ops.sqlite3'}", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    app_b = create_app(settings, store=store_b, testing=True)
    app_b.config["WTF_CSRF_ENABLED"] = False
    kctx(app_b).clock = clock
    kctx(app_b).visits.clock = clock  # type: ignore[attr-defined]
    yield app_b
    store_b.close()


def same_browser(a: FlaskClient, app_b: Flask) -> FlaskClient:
    """A client of the second app carrying the first client's session cookie (one kiosk browser
    whose requests a load balancer sends to either worker)."""
    cookie = a.get_cookie("session")
    assert cookie is not None
    b = app_b.test_client()
    b.set_cookie("session", cookie.value)
    return b


def sync(src: FlaskClient, dst: FlaskClient) -> None:
    cookie = src.get_cookie("session")
    assert cookie is not None
    dst.set_cookie("session", cookie.value)


def test_the_app_shares_visits_through_the_store(app: Flask, other_app: Flask) -> None:
    """With a store and a visit key, both app instances keep visits in the database."""
    assert isinstance(kctx(app).visits, SqlVisitStore)
    assert isinstance(kctx(other_app).visits, SqlVisitStore)


def test_visit_started_on_one_app_continues_on_the_other(
    app: Flask,
    other_app: Flask,
    kiosk: FlaskClient,
    store: Store,
    known_patient: Patient,
    id_number: str,
    clock: Clock,
) -> None:
    """Start and consent on worker A, ID check-in on B, complaint on A, questions on B, vitals on
    A, the result on B; Finish on B ends it for A too."""
    a = kiosk
    start_visit(a)
    assert go(a, "/kiosk/consent", {"consent": "no_face"}).headers["Location"].endswith("/kiosk/fallback")
    b = same_browser(a, other_app)
    r = go(b, "/kiosk/fallback", {"id_number": id_number})
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/complaint"), r.data
    sync(b, a)
    clock.now += 60
    r = go(a, "/kiosk/complaint", {"complaints": ["chest_pain"], "complaint_text": "pressure since lunch"})
    assert r.headers["Location"].endswith("/kiosk/questions"), r.data
    # B sees A's answers (the complaint form keeps its values) and goes on from there
    assert "pressure since lunch" in b.get("/kiosk/complaint").get_data(as_text=True)
    r = go(b, "/kiosk/questions", QUESTIONS_OK)
    assert r.headers["Location"].endswith("/kiosk/vitals"), r.data
    r = go(a, "/kiosk/vitals", VITALS_OK)
    assert r.headers["Location"].endswith("/kiosk/result"), r.data
    assert b.get("/kiosk/result").status_code == 200
    [result] = store.triage_results(patient_id=known_patient.id)
    [check_in] = store.check_ins(patient_id=known_patient.id)
    assert result.check_in_id == check_in.id

    # the stored state is sealed: no name, complaint text or ID number in clear
    with store._read() as s:
        [row] = list(s.query(rows.KioskVisitRow))
    blob = bytes(row.ciphertext)
    for clear in (known_patient.name, "pressure since lunch", id_number, "chest_pain", known_patient.id):
        assert clear.encode() not in blob
    assert row.kiosk_id == "KIOSK-ED-1" and len(row.nonce) == 12

    assert go(b, "/kiosk/finish").headers["Location"].endswith("/kiosk/")
    assert rows.count_visits(store) == 0
    assert a.get("/kiosk/result").headers["Location"].endswith("/kiosk/")


def test_visit_expires_for_every_worker_after_the_ttl(
    app: Flask, other_app: Flask, kiosk: FlaskClient, store: Store, clock: Clock
) -> None:
    """A visit left alone longer than the TTL is gone on both workers and deleted from the store."""
    start_visit(kiosk)
    b = same_browser(kiosk, other_app)
    clock.now += VISIT_TTL_S - 10
    assert b.get("/kiosk/consent").status_code == 200  # used: the TTL starts again
    clock.now += VISIT_TTL_S - 10
    assert kiosk.get("/kiosk/consent").status_code == 200
    clock.now += VISIT_TTL_S + 1
    assert b.get("/kiosk/consent").headers["Location"].endswith("/kiosk/")
    assert kiosk.get("/kiosk/consent").headers["Location"].endswith("/kiosk/")
    assert rows.count_visits(store) == 0
    start_visit(kiosk)  # a new visit sweeps expired rows of other kiosks too
    assert rows.count_visits(store) == 1


# -- the sealed store itself ---------------------------------------------------------------------


@pytest.fixture
def key() -> bytes:
    import base64

    return base64.urlsafe_b64decode(new_key())


def test_camera_frames_stay_in_the_worker_that_took_them(store: Store, key: bytes) -> None:
    """Enrolment frames are never written to the store: the same worker still has them, another
    worker continues the visit without them, and ending the visit zeroes them."""
    clock = Clock()
    w1, w2 = SqlVisitStore(store, key, clock=clock), SqlVisitStore(store, key, clock=clock)
    v = w1.new("K-1")
    frame = np.full((120, 160, 3), 200, np.uint8)
    v.enrol_frames = [frame]
    v.unknown = "face"
    w1.save(v)
    sealed = rows.get_sealed(store, v.id)
    assert sealed is not None and len(sealed.ciphertext) < 2000
    state = VisitCipher(key).open(sealed)
    assert "enrol_frames" not in state and state["unknown"] == "face"
    again = w1.get(v.id, "K-1")
    assert again is not None and len(again.enrol_frames) == 1 and again.unknown == "face"
    elsewhere = w2.get(v.id, "K-1")
    assert elsewhere is not None and elsewhere.enrol_frames == [] and elsewhere.unknown == "face"
    w1.end(v.id)
    assert not frame.any() and w2.get(v.id, "K-1") is None


def test_state_round_trips_every_field(store: Store, key: bytes) -> None:
    """Everything a visit holds between screens comes back equal (answers, vitals, result, forms)."""
    from hospital_ops.domain import CheckInMethod, Mental, Reason, Sex, TriageLevel, TriageResult, Vitals
    from triage_kiosk.identity import Challenge
    from triage_kiosk.triage.model import ArrivalMode
    from triage_kiosk.web.forms import Answers
    from triage_kiosk.web.service import AppointmentArrival

    v = Visit(id="V-1", kiosk_id="K-1", started_s=10.0, touched_s=20.5)
    v.face_consent, v.challenge, v.face_attempts = True, Challenge.BLINK, 2
    v.patient = Patient(id="P-1", mrn="M-1", name="王芳", birth_year=1958, sex=Sex.FEMALE, credit_care=True)
    v.method, v.check_in_id, v.notice = CheckInMethod.QR, "C-1", ("hello", "你好")
    v.complaints, v.complaint_text, v.complaint_done = ("chest_pain", "dyspnoea"), "tight", True
    v.answers = Answers(
        age=None, onset_hours=3.0, onset_given=True, pain=7, pain_given=True, arrival=ArrivalMode.WALK_IN,
        mental=Mental.ALERT, modifiers=frozenset({"a", "b"}),
    )  # fmt: skip
    v.vitals, v.device_vitals = Vitals(heart_rate=80.0, spo2=97.0), {"heart_rate": 80.0}
    v.arrival = AppointmentArrival("AP-1", "OP-03", ("Card", "心内"), ("OP 3", "门诊3"), None, False, 1000)
    v.appointment_choice = "triage"
    v.result = TriageResult(TriageLevel.EMERGENT, (Reason("r", "en", "zh", 2),), "ed_acute", True, ("spo2",), "rs")
    v.triage_id, v.queue, v.alert_id = 7, "A007", 3
    v.forms = {"questions": {"modifiers": ["a"], "pain": "7"}}
    back = visit_from_state(visit_state(v))
    assert back == v
    w = SqlVisitStore(store, key, clock=Clock())
    stored = w.new("K-1")
    for name in visit_state(v):
        if name not in ("id", "kiosk_id", "started_s", "touched_s"):
            setattr(stored, name, getattr(v, name))
    w.save(stored)
    loaded = SqlVisitStore(store, key, clock=w.clock).get(stored.id, "K-1")
    assert loaded is not None and visit_state(loaded) == {**visit_state(stored), "touched_s": loaded.touched_s}


def test_wrong_key_altered_or_moved_state_is_an_ended_visit(store: Store, key: bytes) -> None:
    """State sealed with another key, altered, or copied onto another visit is not opened: the
    visit is treated as ended (and deleted), never a crash or another patient's answers."""
    import base64

    clock = Clock()
    w = SqlVisitStore(store, key, clock=clock)
    other = SqlVisitStore(store, base64.urlsafe_b64decode(new_key()), clock=clock)
    v = w.new("K-1")
    assert other.get(v.id, "K-1") is None and rows.get_sealed(store, v.id) is None

    v1, v2 = w.new("K-1"), w.new("K-1")
    s1 = rows.get_sealed(store, v1.id)
    assert s1 is not None
    rows.update_visit(store, rows.SealedVisit(v2.id, "K-1", s1.key_id, s1.nonce, s1.ciphertext, 0, s1.touched_ms))
    assert w.get(v2.id, "K-1") is None
    flipped = bytes([s1.ciphertext[0] ^ 1]) + s1.ciphertext[1:]
    rows.update_visit(store, rows.SealedVisit(v1.id, "K-1", s1.key_id, s1.nonce, flipped, 0, s1.touched_ms))
    assert w.get(v1.id, "K-1") is None


def test_another_kiosk_cannot_continue_a_visit(store: Store, key: bytes) -> None:
    """A visit belongs to its kiosk: another kiosk's session gets nothing, and the visit stays."""
    w = SqlVisitStore(store, key, clock=Clock())
    v = w.new("K-1")
    assert w.get(v.id, "K-2") is None
    assert w.get(v.id, "K-1") is not None and len(w) == 1


def test_a_finished_visit_is_not_brought_back_by_a_late_save(store: Store, key: bytes) -> None:
    """A request still holding the visit after Finish (on another worker) does not re-create it."""
    w = SqlVisitStore(store, key, clock=Clock())
    v = w.new("K-1")
    w.end(v.id)
    v.complaint_text = "late"
    w.save(v)
    assert rows.count_visits(store) == 0


def test_without_a_visit_key_visits_stay_in_process(tmp_path: Path, store: Store) -> None:
    """No HOSPITAL_OPS_VISIT_KEY: the kiosk still works, visits in this process only (no default key)."""
    s = Settings(data_dir=tmp_path, secret_key=SecretStr("k" * 44))
    app = create_app(s, store=store, testing=True)
    assert isinstance(kctx(app).visits, VisitStore)
