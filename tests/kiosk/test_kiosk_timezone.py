""" "Today" at the kiosk is the hospital's local day (Asia/Shanghai on the default campus), not the
UTC day: between 00:00 and 08:00 local time a booked patient is checked in for today's
appointment, not yesterday's. The zone comes from ``HOSPITAL_OPS_TIMEZONE``, else the campus
file's ``timezone``, else UTC; a bad zone name is refused naming the setting."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from pydantic import ValidationError

from hospital_ops.campus import CampusError, default_campus, default_campus_path, load_campus
from hospital_ops.config import Settings, hospital_zone
from hospital_ops.domain import Patient
from hospital_ops.store import NotFoundError, Store
from hospital_ops.store import orders as so
from tests.fhir.conftest import appointment, patient
from tests.kiosk.conftest import check_in_by_id, kctx, send

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 2026-11-27 01:30 in Shanghai = 2026-11-26 17:30 UTC (the UTC day is still the 26th).
LOCAL_0130 = datetime(2026, 11, 27, 1, 30, tzinfo=SHANGHAI)
NOW_S = int(LOCAL_0130.timestamp())


def booked(number: str, mrn: str, start: str, end: str) -> dict[str, Any]:
    return {**appointment(number, mrn=mrn), "start": start, "end": end}


@pytest.fixture(autouse=True)
def night_clock(app: Flask) -> None:
    """Kiosk and FHIR intake at 01:30 local time."""
    kctx(app).clock = lambda: float(NOW_S)
    app.extensions["hospital_ops"].clock = lambda: float(NOW_S)


def test_the_app_uses_the_campus_time_zone(app: Flask) -> None:
    """The default campus says Asia/Shanghai; the kiosk's "today" at 01:30 local is the local date."""
    assert default_campus().timezone == "Asia/Shanghai"
    ctx = kctx(app)
    assert ctx.tz == SHANGHAI
    assert datetime.fromtimestamp(NOW_S, UTC).date() == date(2026, 11, 26)
    assert ctx.today() == date(2026, 11, 27)


def test_appointment_for_local_today_is_found_at_0130_local(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """At 01:30 local (the previous UTC day) a patient booked for 09:00 local today is checked in
    for that appointment."""
    send(
        app,
        his,
        patient(known_patient.mrn, name=known_patient.name),
        booked("AP-TODAY", known_patient.mrn, "2026-11-27T09:00:00+08:00", "2026-11-27T09:20:00+08:00"),
    )
    r = check_in_by_id(kiosk, id_number)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/appointment")
    [appt] = so.list_appointments(store)
    assert appt.status == "arrived" and appt.patient_id == known_patient.id
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.appointment_id == appt.id


def test_yesterdays_appointment_is_not_found_at_0130_local(
    app: Flask, kiosk: FlaskClient, store: Store, his: dict[str, str], known_patient: Patient, id_number: str
) -> None:
    """At 01:30 local, yesterday afternoon's appointment (the same UTC day as now) is not today's:
    the patient goes on as a walk-in and the appointment stays booked."""
    send(
        app,
        his,
        patient(known_patient.mrn, name=known_patient.name),
        booked("AP-YDAY", known_patient.mrn, "2026-11-26T15:00:00+08:00", "2026-11-26T15:20:00+08:00"),
    )
    r = check_in_by_id(kiosk, id_number)
    assert r.status_code == 302 and r.headers["Location"].endswith("/kiosk/complaint")
    [appt] = so.list_appointments(store)
    assert appt.status == "booked"
    [ci] = store.check_ins(patient_id=known_patient.id)
    assert ci.appointment_id is None


def test_arrive_by_patient_takes_only_the_local_days_appointment(app: Flask, store: Store, his: dict[str, str]) -> None:
    """``arrive_appointment`` by patient with the hospital's zone: yesterday's appointment (nearer
    in time) is passed over for today's; with none today it says so."""
    send(
        app,
        his,
        patient("M-77"),
        booked("AP-Y", "M-77", "2026-11-26T23:00:00+08:00", "2026-11-26T23:20:00+08:00"),
        booked("AP-T", "M-77", "2026-11-27T10:00:00+08:00", "2026-11-27T10:20:00+08:00"),
    )
    [pid] = {a.patient_id for a in so.list_appointments(store)}
    assert pid is not None
    arrival = so.arrive_appointment(store, actor="kiosk", patient_id=pid, now_s=NOW_S, tz=SHANGHAI)
    assert arrival.appointment.identifier[1] == "AP-T" and not arrival.already_arrived
    assert arrival.appointment.start_s == int(datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI).timestamp())
    later = int(datetime(2026, 11, 29, 1, 30, tzinfo=SHANGHAI).timestamp())
    with pytest.raises(NotFoundError, match=r"no booked appointment today \(2026-11-29, Asia/Shanghai\)"):
        so.arrive_appointment(store, actor="kiosk", patient_id=pid, now_s=later, tz=SHANGHAI)


def test_age_counts_from_the_local_year(app: Flask) -> None:
    """On 1 January 01:00 local (still 31 December UTC) a patient born in 1990 is 37 in 2027."""
    from triage_kiosk.web.service import Visit

    ctx = kctx(app)
    new_year = datetime(2027, 1, 1, 1, 0, tzinfo=SHANGHAI).timestamp()
    ctx.clock = lambda: new_year
    v = Visit(id="v", kiosk_id="k", started_s=new_year, touched_s=new_year)
    v.patient = Patient(id="P-1", mrn="M-1", name="x", birth_year=1990)
    assert v.age(ctx.today()) == 37.0


# -- the setting ---------------------------------------------------------------------------------


def test_setting_overrides_the_campus_and_utc_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOSPITAL_OPS_TIMEZONE wins over the campus file; neither given means UTC."""
    monkeypatch.setenv("HOSPITAL_OPS_TIMEZONE", "Asia/Urumqi")
    s = Settings()
    assert s.timezone == "Asia/Urumqi"
    assert hospital_zone(s, "Asia/Shanghai") == ZoneInfo("Asia/Urumqi")
    monkeypatch.delenv("HOSPITAL_OPS_TIMEZONE")
    assert hospital_zone(Settings(), "Asia/Shanghai") == SHANGHAI
    assert hospital_zone(Settings(), None) == ZoneInfo("UTC")


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "Asia/Shang hai", "../../etc/passwd", "+08:00"])
def test_bad_zone_name_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """A zone name that is not an IANA zone is refused with the variable's name and the reason."""
    monkeypatch.setenv("HOSPITAL_OPS_TIMEZONE", bad)
    with pytest.raises(ValidationError) as info:
        Settings()
    message = str(info.value)
    assert "HOSPITAL_OPS_TIMEZONE: unknown time zone" in message and "Asia/Shanghai" in message
    assert "Traceback" not in message


def test_bad_zone_in_the_campus_file_names_the_file(tmp_path: Path) -> None:
    """A campus file with a bad ``timezone`` is refused naming the file and the field."""
    data = yaml.safe_load(default_campus_path().read_text(encoding="utf-8"))
    data["timezone"] = "Asia/Nowhere"
    path = tmp_path / "campus.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CampusError, match=rf"{path}: 'timezone': unknown time zone 'Asia/Nowhere'"):
        load_campus(path)
    del data["timezone"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_campus(path).timezone is None


def test_fhir_arrive_by_patient_uses_the_hospital_day(
    app: Flask, store: Store, his: dict[str, str], kiosk_token: str
) -> None:
    """``POST /fhir/Appointment/$arrive`` with only the patient (a kiosk of another vendor) takes
    today's appointment in the hospital's time zone, not yesterday's nearer one."""
    send(
        app,
        his,
        patient("M-78"),
        booked("AP-Y2", "M-78", "2026-11-26T23:00:00+08:00", "2026-11-26T23:20:00+08:00"),
        booked("AP-T2", "M-78", "2026-11-27T10:00:00+08:00", "2026-11-27T10:20:00+08:00"),
    )
    [pid] = {a.patient_id for a in so.list_appointments(store)}
    r = app.test_client().post(
        "/fhir/Appointment/$arrive", json={"patient_id": pid}, headers={"Authorization": f"Bearer {kiosk_token}"}
    )
    assert r.status_code == 200, r.get_json()
    appt = {p["name"]: p for p in r.get_json()["parameter"]}["appointment"]["resource"]
    assert any(i["value"] == "AP-T2" for i in appt["identifier"]) and appt["status"] == "arrived"
