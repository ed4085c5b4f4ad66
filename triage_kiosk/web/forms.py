"""Checks of every kiosk form and JSON body: pure functions from submitted values to clean values
and, per field, a message in English and Chinese that names the field and the reason.

The same functions serve the HTML forms (``request.form``) and the JSON endpoints (a dict), so
a page and an API refuse the same input with the same words. Nothing here imports Flask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hospital_ops.domain import Mental, Sex, Vitals
from triage_kiosk.triage.model import VITAL_FIELDS, VITAL_RANGES, ArrivalMode
from triage_kiosk.triage.ruleset import Ruleset
from triage_kiosk.web.text import both

#: Onset choices on the questions screen -> hours since onset (None = not known).
ONSET_CHOICES: dict[str, float | None] = {"0.5": 0.5, "3": 3.0, "12": 12.0, "72": 72.0, "336": 336.0, "unknown": None}
TRISTATE = {"yes": True, "no": False, "unsure": None}
MAX_TEXT = 500
NAME_RE = re.compile(r"^[^\x00-\x1f<>{}]{1,100}$")
PHONE_RE = re.compile(r"^\+?[0-9 \-]{6,20}$")

Problems = dict[str, tuple[str, str]]


@dataclass
class Submitted:
    """Uniform access to a form (``MultiDict``) or a JSON object."""

    data: Any

    def one(self, name: str) -> Any:
        if hasattr(self.data, "getlist"):
            return self.data.get(name)
        return self.data.get(name) if isinstance(self.data, Mapping) else None

    def many(self, name: str) -> list[Any]:
        if hasattr(self.data, "getlist"):
            return list(self.data.getlist(name))
        value = self.data.get(name) if isinstance(self.data, Mapping) else None
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]

    def text(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            return ""
        return value.strip() if isinstance(value, str) else str(value)

    def raw(self) -> dict[str, Any]:
        """The submitted values, to fill the form again after an error (nothing is lost)."""
        if hasattr(self.data, "getlist"):
            return {k: (self.data.getlist(k) if len(self.data.getlist(k)) > 1 else self.data.get(k)) for k in self.data}
        return dict(self.data) if isinstance(self.data, Mapping) else {}


def _problem(problems: Problems, name: str, key: str, **fmt: object) -> None:
    problems.setdefault(name, both(key, field=name, **fmt))


def _as_bool_choice(value: Any, name: str, problems: Problems, *, required: bool) -> tuple[bool, bool | None]:
    """(given, value) of a yes / no / unsure answer (JSON true/false/null accepted)."""
    if value is None or value == "":
        if required:
            _problem(problems, name, "q.required")
        return False, None
    if isinstance(value, bool):
        return True, value
    if isinstance(value, str) and value.strip().lower() in TRISTATE:
        return True, TRISTATE[value.strip().lower()]
    _problem(problems, name, "q.bad_choice")
    return False, None


# -- consent and fallback ------------------------------------------------------------------------


def parse_consent(sub: Submitted) -> tuple[bool | None, Problems]:
    choice = sub.text("consent")
    if choice == "face":
        return True, {}
    if choice == "no_face":
        return False, {}
    return None, {"consent": both("consent.required")}


@dataclass(frozen=True)
class FallbackAnswer:
    id_number: str = ""
    qr_token: str = ""


def parse_fallback(sub: Submitted) -> tuple[FallbackAnswer, Problems]:
    id_number = re.sub(r"\s+", "", sub.text("id_number"))
    qr = sub.text("qr_token")
    if not id_number and not qr:
        return FallbackAnswer(), {"id_number": both("fallback.one")}
    if id_number and qr:
        return FallbackAnswer(), {"id_number": both("fallback.both")}
    return FallbackAnswer(id_number=id_number, qr_token=qr), {}


# -- registration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    name: str
    birth_year: int
    sex: Sex
    phone: str | None
    id_number: str | None
    enrol_face: bool


def parse_registration(sub: Submitted, *, today: date, can_enrol: bool) -> tuple[Registration | None, Problems]:
    p: Problems = {}
    name = sub.text("name")
    if not name:
        p["name"] = ("name: please enter your full name", "姓名：请输入您的姓名")
    elif not NAME_RE.match(name):
        p["name"] = ("name: 1 to 100 characters, no control characters or <>{}", "姓名：1到100个字符，不含特殊符号")
    year_text = sub.text("birth_year")
    birth_year = 0
    try:
        birth_year = int(year_text)
    except ValueError:
        p["birth_year"] = (
            f"birth_year: enter a four-digit year between 1900 and {today.year}",
            f"出生年份：请输入1900到{today.year}之间的四位年份",
        )
    else:
        if not 1900 <= birth_year <= today.year:
            p["birth_year"] = (
                f"birth_year: {birth_year} is not between 1900 and {today.year}",
                f"出生年份：{birth_year} 不在1900到{today.year}之间",
            )
    sex_text = sub.text("sex") or ""
    try:
        sex = Sex(sex_text)
    except ValueError:
        p["sex"] = ("sex: choose female, male, other or prefer not to say", "性别：请选择女、男、其他或不愿透露")
        sex = Sex.UNKNOWN
    phone = sub.text("phone") or None
    if phone is not None and not PHONE_RE.match(phone):
        p["phone"] = ("phone: 6 to 20 digits (spaces, dashes and a leading + allowed)", "手机号码：6到20位数字")
    id_number = re.sub(r"\s+", "", sub.text("id_number")) or None
    enrol = sub.text("enrol_face") in ("1", "on", "true", "yes", "True")
    if enrol and not can_enrol:
        p["enrol_face"] = (
            "enrol_face: no live camera pictures from this visit to enrol from; check in by camera first",
            "刷脸登记：本次没有可用于登记的摄像头画面，请先刷脸",
        )
    if sub.text("confirm") not in ("1", "on", "true", "yes", "True"):
        p["confirm"] = ("confirm: please confirm the details are yours", "确认：请确认以上信息属实")
    if p:
        return None, p
    return Registration(name, birth_year, sex, phone, id_number, enrol), {}


# -- complaint and questions ---------------------------------------------------------------------


def parse_complaint(sub: Submitted, ruleset: Ruleset) -> tuple[tuple[tuple[str, ...], str], Problems]:
    codes = [c.strip() if isinstance(c, str) else c for c in sub.many("complaints")]
    codes = [c for c in codes if c != ""]
    p: Problems = {}
    for c in codes:
        if not isinstance(c, str) or c not in ruleset.catalog.complaints:
            p["complaints"] = both("complaint.unknown", code=repr(c))
            break
    text = sub.text("complaint_text")
    if len(text) > MAX_TEXT:
        p["complaint_text"] = both("complaint.too_long")
    if not p and not codes and not text:
        p["complaints"] = both("complaint.required")
    return (tuple(dict.fromkeys(codes)), text), p


@dataclass
class Answers:
    age: float | None = None
    onset_hours: float | None = None
    onset_given: bool = False
    pain: int | None = None
    pain_given: bool = False
    pregnant: bool | None = None
    injury: bool | None = None
    arrival: ArrivalMode | None = None
    mental: Mental | None = None
    modifiers: frozenset[str] = field(default_factory=frozenset)


def ask_pregnancy(ruleset: Ruleset, sex: Sex, age: float | None) -> bool:
    """Whether the questions screen asks about pregnancy (sex and age from the ruleset)."""
    if sex not in ruleset.pregnancy_sexes:
        return False
    lo, hi = ruleset.pregnancy_ages
    return age is None or lo <= age <= hi


def parse_questions(
    sub: Submitted, ruleset: Ruleset, *, sex: Sex, known_age: float | None
) -> tuple[Answers | None, Problems]:
    p: Problems = {}
    a = Answers()
    if known_age is None:
        text = sub.text("age")
        try:
            age = float(text)
            if not math.isfinite(age) or not 0 <= age <= 130:
                raise ValueError
            a.age = age
        except ValueError:
            p["age"] = both("q.bad_age")
    else:
        a.age = known_age
    onset = sub.text("onset")
    if not onset:
        _problem(p, "onset", "q.required")
    elif onset not in ONSET_CHOICES:
        _problem(p, "onset", "q.bad_choice")
    else:
        a.onset_hours, a.onset_given = ONSET_CHOICES[onset], True
    pain = sub.one("pain")
    if pain is None or pain == "":
        _problem(p, "pain", "q.required")
    elif pain == "unknown":
        a.pain_given = True
    else:
        try:
            if isinstance(pain, bool) or (isinstance(pain, float) and not pain.is_integer()):
                raise ValueError
            n = int(pain)
            if not 0 <= n <= 10:
                raise ValueError
            a.pain, a.pain_given = n, True
        except (TypeError, ValueError):
            p["pain"] = ("pain: choose a whole number from 0 to 10", "疼痛评分：请选择0到10之间的整数")
    if ask_pregnancy(ruleset, sex, a.age):
        _, a.pregnant = _as_bool_choice(sub.one("pregnant"), "pregnant", p, required=True)
        if a.pregnant and sex is Sex.MALE:
            p["pregnant"] = both("q.pregnant_male")
    else:
        _, preg = _as_bool_choice(sub.one("pregnant"), "pregnant", p, required=False)
        if preg and sex is Sex.MALE:
            p["pregnant"] = both("q.pregnant_male")
        a.pregnant = preg
    _, a.injury = _as_bool_choice(sub.one("injury"), "injury", p, required=True)
    arrival = sub.text("arrival")
    if not arrival:
        _problem(p, "arrival", "q.required")
    else:
        try:
            a.arrival = ArrivalMode(arrival)
        except ValueError:
            _problem(p, "arrival", "q.bad_choice")
    mental = sub.text("mental")
    if not mental:
        _problem(p, "mental", "q.required")
    else:
        try:
            a.mental = Mental(mental)
        except ValueError:
            _problem(p, "mental", "q.bad_choice")
    mods = [m for m in sub.many("modifiers") if m not in ("", None)]
    for m in mods:
        if not isinstance(m, str) or m not in ruleset.modifiers:
            p["modifiers"] = both("q.bad_modifier", code=repr(m))
            break
    else:
        a.modifiers = frozenset(mods)
    return (None, p) if p else (a, {})


# -- appointment ----------------------------------------------------------------------------------

#: What a booked patient may answer on the appointment screen.
APPOINTMENT_CHOICES = ("as_booked", "worse")


def parse_appointment(sub: Submitted, red_flags: Iterable[str]) -> tuple[str | None, frozenset[str], Problems]:
    """(choice, red flags ticked) of the appointment screen: ``as_booked`` (go to the appointment)
    or ``worse`` (be assessed first). Ticked red flags always mean an assessment, whatever the
    choice; an unknown code or a missing / unknown choice is a problem naming its field."""
    p: Problems = {}
    allowed = set(red_flags)
    flags = [m for m in sub.many("modifiers") if m not in ("", None)]
    for m in flags:
        if not isinstance(m, str) or m not in allowed:
            p["modifiers"] = both("q.bad_modifier", code=repr(m))
            break
    choice = sub.text("feeling")
    if choice not in APPOINTMENT_CHOICES:
        p["feeling"] = both("appointment.feeling_required" if not choice else "appointment.feeling_bad")
    if p:
        return None, frozenset(), p
    return choice, frozenset(flags), {}


# -- vitals ---------------------------------------------------------------------------------------


def parse_vitals(sub: Submitted) -> tuple[Vitals | None, Problems]:
    """Each vital sign optional (empty = not measured); a given value must be a possible number."""
    p: Problems = {}
    values: dict[str, float | None] = {}
    for name in VITAL_FIELDS:
        raw = sub.one(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            values[name] = None
            continue
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
            if not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            p[name] = both("vitals.number", field=name)
            continue
        low, high = VITAL_RANGES[name]
        if not low <= value <= high:
            p[name] = both("vitals.range", field=name, value=f"{value:g}", low=f"{low:g}", high=f"{high:g}")
            continue
        values[name] = value
    sbp, dbp = values.get("systolic_bp"), values.get("diastolic_bp")
    if not p and sbp is not None and dbp is not None and dbp >= sbp:
        p["diastolic_bp"] = both("vitals.bp")
    if p:
        return None, p
    return Vitals(**values), {}


def first_message(problems: Problems, lang: str = "en") -> tuple[str, str]:
    """(field, message) of the first problem, for a JSON error body."""
    name = next(iter(problems))
    en, zh = problems[name]
    return name, zh if lang == "zh" else en
