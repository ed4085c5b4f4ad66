"""Scenario: everything one simulation study varies, validated, from one YAML file.

Every section is a pydantic model with ``extra="forbid"``: a misspelt key is an error naming the
key and suggesting the nearest valid one, never a silent no-op. Defaults are realistic for the
shipped 5,037-bed campus and are documented, with their sources, in ``sim/README.md``.
:func:`load_scenario` turns any problem with a file into :class:`ScenarioError` whose message names
the file, the field (dotted path) and the reason.
"""

from __future__ import annotations

import difflib
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file, the field and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


NonNeg = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Pct = Annotated[float, Field(ge=0, le=100)]


class DistKind(StrEnum):
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    GAMMA = "gamma"
    UNIFORM = "uniform"
    FIXED = "fixed"


class Dist(_Strict):
    """A positive duration in seconds: its family, mean and coefficient of variation (sd / mean).

    ``exponential`` ignores ``cv`` (it is 1), ``fixed`` ignores it (0); ``uniform`` is symmetric
    around the mean with the given cv (so cv ≤ 0.577 keeps it non-negative).
    """

    dist: DistKind = DistKind.LOGNORMAL
    mean: NonNeg
    cv: NonNeg = 0.5

    @model_validator(mode="after")
    def _check(self) -> Dist:
        if self.dist is not DistKind.FIXED and self.mean <= 0:
            raise ValueError(f"mean: a {self.dist.value} duration needs a positive mean, got {self.mean}")
        if self.dist is DistKind.UNIFORM and self.cv > 1 / math.sqrt(3):
            raise ValueError(f"cv: a uniform duration needs cv ≤ 0.577 to stay non-negative, got {self.cv}")
        if self.dist in (DistKind.LOGNORMAL, DistKind.GAMMA) and self.cv <= 0:
            raise ValueError(f"cv: a {self.dist.value} duration needs cv > 0 (use dist: fixed for none)")
        return self


def check_profile(v: list[float]) -> list[float]:
    if len(v) != 24:
        raise ValueError(f"needs 24 hourly weights (00 h … 23 h), got {len(v)}")
    if any(x < 0 for x in v):
        raise ValueError("weights must not be negative")
    if sum(v) <= 0:
        raise ValueError("at least one hour needs a positive weight")
    return v


def check_mix(v: list[float]) -> list[float]:
    if len(v) != 5:
        raise ValueError(f"needs 5 shares for triage levels 1..5, got {len(v)}")
    if any(x < 0 for x in v):
        raise ValueError("shares must not be negative")
    if abs(sum(v) - 1.0) > 1e-6:
        raise ValueError(f"shares must sum to 1, got {sum(v):.4f}")
    return v


class PerWeekday(_Strict):
    """A count for each day of the week."""

    mon: NonNeg
    tue: NonNeg
    wed: NonNeg
    thu: NonNeg
    fri: NonNeg
    sat: NonNeg
    sun: NonNeg

    def of(self, weekday: int) -> float:
        return float(getattr(self, WEEKDAYS[weekday % 7]))


# ---- demand -------------------------------------------------------------------------------------


class Outpatients(_Strict):
    per_weekday: PerWeekday = PerWeekday(mon=9500, tue=9000, wed=8800, thu=8800, fri=8500, sat=4500, sun=2500)
    #: Relative arrival weight of each hour; peaks 08–10 h, second session 14–16 h.
    hourly_profile: list[float] = [
        0, 0, 0, 0, 0, 0, 0.5, 5.0, 11.0, 11.0, 9.0, 7.0, 3.0, 4.0, 7.0, 6.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0, 0, 0,
    ]  # fmt: skip
    #: Share of outpatients who check in at a kiosk (the rest use the app or a desk and go straight to clinic).
    kiosk_share: Share = 0.5
    #: Share of kiosk outpatients with an appointment: they go to their clinic unless triage finds
    #: them urgent (level ≤ redirect_at_or_below); walk-ins go where the triage engine sends them.
    appointment_share: Share = 0.85
    redirect_at_or_below: Annotated[int, Field(ge=1, le=5)] = 3
    #: True acuity of outpatients at the kiosk, triage levels 1..5.
    acuity_mix: list[float] = [0.0, 0.001, 0.009, 0.04, 0.95]
    #: Share of outpatients who are children (< 14 years).
    child_share: Share = 0.12

    @field_validator("hourly_profile")
    @classmethod
    def _v_profile(cls, v: list[float]) -> list[float]:
        return check_profile(v)

    @field_validator("acuity_mix")
    @classmethod
    def _v_mix(cls, v: list[float]) -> list[float]:
        return check_mix(v)


class EmergencyDemand(_Strict):
    arrivals_per_day: NonNeg = 650
    #: Relative arrival weight of each hour; peaks 18–22 h.
    hourly_profile: list[float] = [
        2.6, 2.1, 1.7, 1.5, 1.4, 1.5, 1.9, 2.6, 3.6, 4.3, 4.6, 4.6,
        4.4, 4.3, 4.4, 4.5, 4.6, 4.9, 5.8, 6.2, 6.2, 5.8, 4.6, 3.5,
    ]  # fmt: skip
    #: Share of ED arrivals at each triage level 1..5 (KTAS expert levels, Moon et al. 2019).
    acuity_mix: list[float] = [0.02, 0.17, 0.39, 0.36, 0.06]
    #: Share arriving by ambulance (straight to the triage nurse, no kiosk).
    ambulance_share: Share = 0.15
    #: Share of ED patients with blood tests sent to the central lab by robot, by level 1..5.
    lab_share: list[Share] = [0.9, 0.85, 0.7, 0.35, 0.1]
    #: Share of ED patients needing a medicine delivery from the pharmacy, by level 1..5.
    medication_share: list[Share] = [0.8, 0.6, 0.4, 0.15, 0.05]

    @field_validator("hourly_profile")
    @classmethod
    def _v_profile(cls, v: list[float]) -> list[float]:
        return check_profile(v)

    @field_validator("acuity_mix")
    @classmethod
    def _v_mix(cls, v: list[float]) -> list[float]:
        return check_mix(v)

    @field_validator("lab_share", "medication_share")
    @classmethod
    def _five(cls, v: list[float]) -> list[float]:
        if len(v) != 5:
            raise ValueError(f"needs 5 shares for triage levels 1..5, got {len(v)}")
        return v


class Inpatients(_Strict):
    #: Share of beds occupied.
    occupancy: Share = 0.85


class PriorityMix(_Strict):
    stat: Share
    urgent: Share

    @model_validator(mode="after")
    def _check(self) -> PriorityMix:
        if self.stat + self.urgent > 1 + 1e-9:
            raise ValueError(f"stat + urgent must not exceed 1, got {self.stat + self.urgent:.3f}")
        return self


class Lab(_Strict):
    tests_per_inpatient_day: NonNeg = 12.0
    #: Morning phlebotomy rounds (clock times): each ward sends one box of the round's tubes to the lab.
    draw_rounds: list[str] = ["06:00"]
    #: Share of the day's tests drawn in those rounds; the rest are ad-hoc specimens through the day.
    round_share: Share = 0.5
    #: Drawer units a ward's round box takes per 25 occupied beds (rounded up, at most the robot capacity).
    round_units_per_25_beds: Annotated[float, Field(gt=0)] = 1.0
    #: Tests per ad-hoc specimen bag sent from a ward (one draw, several tubes).
    tests_per_specimen: Annotated[float, Field(gt=0)] = 4.4
    #: Share of ad-hoc specimen bags carried by robot (the rest by pneumatic tube or porter).
    robot_share: Share = 0.35
    #: Share of ad-hoc specimen bags ordered STAT, and URGENT; the rest are routine.
    priority: PriorityMix = PriorityMix(stat=0.30, urgent=0.20)
    #: Ad-hoc specimens by hour.
    hourly_profile: list[float] = [
        1.0, 1.0, 1.0, 1.0, 1.2, 1.8, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5,
        2.2, 2.2, 2.5, 2.5, 2.2, 2.0, 1.8, 1.6, 1.5, 1.3, 1.1, 1.0,
    ]  # fmt: skip
    #: Specimen stability: most minutes from pickup to the lab.
    max_transit_min: Annotated[float, Field(gt=0)] | None = 120.0

    @field_validator("hourly_profile")
    @classmethod
    def _v_profile(cls, v: list[float]) -> list[float]:
        return check_profile(v)

    @field_validator("draw_rounds")
    @classmethod
    def _rounds(cls, v: list[str]) -> list[str]:
        return [_hhmm(x) for x in v]


def _hhmm(v: str) -> str:
    try:
        h, m = (int(x) for x in str(v).split(":"))
    except ValueError:
        raise ValueError(f"expected a time as HH:MM, got {v!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"expected a time as HH:MM within a day, got {v!r}")
    return f"{h:02d}:{m:02d}"


def hhmm_seconds(v: str) -> int:
    h, m = (int(x) for x in v.split(":"))
    return h * 3600 + m * 60


class Medication(_Strict):
    #: Ward medication rounds (clock times): one batch delivery per ward per round from the pharmacy.
    rounds: list[str] = ["07:00", "11:00", "16:00", "20:00"]
    #: The batch is requested this long before the round and is due at the round.
    round_lead_min: Annotated[float, Field(gt=0)] = 90.0
    #: Drawer units a round batch takes per 25 occupied beds (rounded up, at most the robot capacity).
    round_units_per_25_beds: Annotated[float, Field(gt=0)] = 1.0
    #: On-demand doses (new orders, PRN, missing doses) sent by robot, per occupied bed per day.
    on_demand_per_patient_day: NonNeg = 0.5
    priority: PriorityMix = PriorityMix(stat=0.15, urgent=0.35)
    controlled_share: Share = 0.10
    cold_chain_share: Share = 0.05
    hourly_profile: list[float] = [
        1.0, 0.8, 0.7, 0.7, 0.8, 1.0, 1.5, 2.5, 3.0, 3.0, 3.0, 2.5,
        2.5, 2.5, 2.5, 2.5, 2.2, 2.0, 2.0, 1.8, 1.5, 1.3, 1.2, 1.0,
    ]  # fmt: skip

    @field_validator("hourly_profile")
    @classmethod
    def _v_profile(cls, v: list[float]) -> list[float]:
        return check_profile(v)

    @field_validator("rounds")
    @classmethod
    def _rounds(cls, v: list[str]) -> list[str]:
        return [_hhmm(x) for x in v]


class Turnaround(_Strict):
    """Promised minutes from request to drop-off (default: the product's service levels)."""

    stat: Annotated[float, Field(gt=0)] = 15.0
    urgent: Annotated[float, Field(gt=0)] = 45.0
    routine: Annotated[float, Field(gt=0)] = 240.0

    def seconds(self, priority: Any) -> float:
        return float(getattr(self, str(priority.value))) * 60.0


class Demand(_Strict):
    #: Scales every arrival rate (capacity studies sweep it).
    multiplier: NonNeg = 1.0
    turnaround_min: Turnaround = Turnaround()
    outpatients: Outpatients = Outpatients()
    ed: EmergencyDemand = EmergencyDemand()
    inpatients: Inpatients = Inpatients()
    lab: Lab = Lab()
    medication: Medication = Medication()


# ---- resources --------------------------------------------------------------------------------


class Battery(_Strict):
    consumption_pct_per_km: NonNeg = 4.0
    #: Percent points per hour on a charger.
    charge_pct_per_h: Annotated[float, Field(gt=0)] = 50.0
    #: Go to charge below this many percent (once the drawers are empty).
    low_pct: Pct = 30.0
    #: Leave the charger at this level (percent).
    resume_pct: Pct = 90.0
    #: Starting level (percent): uniform between these.
    initial_pct: tuple[Pct, Pct] = (60.0, 100.0)

    @model_validator(mode="after")
    def _check(self) -> Battery:
        if self.resume_pct <= self.low_pct:
            raise ValueError(f"resume_pct ({self.resume_pct}) must be above low_pct ({self.low_pct})")
        if self.initial_pct[0] > self.initial_pct[1]:
            raise ValueError("initial_pct: the lower bound is above the upper bound")
        return self


class Fleet(_Strict):
    robots: Annotated[int, Field(ge=0)] = 60
    speed_mps: Annotated[float, Field(gt=0, le=3)] = 1.0
    capacity_units: Annotated[int, Field(ge=1)] = 4
    #: Share of robots with a cold box (the others cannot take cold-chain items).
    cold_box_share: Share = 0.25
    #: Seconds at each end for the hand-over (PIN, drawer).
    service_s: Annotated[int, Field(ge=0)] = 60
    #: Chargers at each dock location of the campus.
    chargers_per_dock: Annotated[int, Field(ge=1)] = 4
    battery: Battery = Battery()


class Lifts(_Strict):
    #: Robots a car takes at once; None = the campus file's value.
    capacity: Annotated[int, Field(ge=1)] | None = None
    #: Wait for the car to arrive once the robot is first in line: "exponential" around the campus
    #: file's mean_wait_s, or "fixed" at it.
    car_wait: Literal["exponential", "fixed"] = "exponential"


class Kiosks(_Strict):
    #: Kiosks in the outpatient building / the ED; None = the campus file's count.
    outpatient: Annotated[int, Field(ge=1)] | None = None
    emergency: Annotated[int, Field(ge=1)] | None = None
    #: Share of check-ins where the face is recognised; the rest fall back to ID card or QR.
    face_success: Share = 0.90
    face_s: Dist = Dist(dist=DistKind.LOGNORMAL, mean=20, cv=0.4)
    fallback_s: Dist = Dist(dist=DistKind.LOGNORMAL, mean=60, cv=0.5)
    #: Triage questions and vitals at the kiosk (only when the triage stage is on).
    questions_s: Dist = Dist(dist=DistKind.LOGNORMAL, mean=60, cv=0.5)
    #: Share of kiosk patients whose vitals the kiosk measures (cuff, oximeter, thermometer).
    vitals_measured_share: Share = 0.97


class Triage(_Strict):
    nurses: Annotated[int, Field(ge=1)] = 6
    service_s: Dist = Dist(dist=DistKind.LOGNORMAL, mean=240, cv=0.5)


class EmergencyCare(_Strict):
    bays: Annotated[int, Field(ge=1)] = 150
    #: Mean hours in a bay by triage level 1..5 (lognormal, cv 0.8).
    los_h: list[Annotated[float, Field(gt=0)]] = [6.0, 5.0, 4.0, 2.5, 1.5]

    @field_validator("los_h")
    @classmethod
    def _five(cls, v: list[float]) -> list[float]:
        if len(v) != 5:
            raise ValueError(f"needs 5 mean stays for triage levels 1..5, got {len(v)}")
        return v


class Clinics(_Strict):
    doctors_per_clinic: Annotated[int, Field(ge=1)] = 12
    consult_s: Dist = Dist(dist=DistKind.LOGNORMAL, mean=420, cv=0.6)


class Planner(_Strict):
    """How the twin calls the product's scheduler (re-planning on events, rate-limited)."""

    #: "ortools" = scheduler.plan (+ its insertion fast path); "greedy" = the greedy baseline.
    policy: Literal["ortools", "greedy"] = "ortools"
    #: Events (new requests, robots freed, faults, repairs, lift outages) re-plan at most this often;
    #: events in between wait for the next re-plan.
    min_replan_interval_s: Annotated[int, Field(ge=0)] = 60
    #: A re-plan is a full search at most this often; the ones in between use the fast insertion path.
    full_replan_interval_s: Annotated[int, Field(ge=0)] = 900
    #: Re-plan at least this often even without events.
    max_replan_interval_s: Annotated[int, Field(gt=0)] = 900
    #: Insert a STAT request at once with the fast path (not waiting for the next re-plan).
    insert_stat_at_once: bool = True
    #: Idle robots wait at staging points spread over the buildings by their STAT pickups so far
    #: (``scheduler.staging``) instead of where their last drop-off left them.
    staging: bool = True
    #: An extra, twin-side buffer: the tasks handed to the dispatcher are due this many seconds
    #: before the promise (all priorities), on top of the scheduler's own per-priority margins
    #: (``params: {deadline_margin: …}``); KPIs still use the promise.
    deadline_margin_s: Annotated[int, Field(ge=0)] = 0
    #: Dispatch zones (``scheduler.zones``): the fleet is split into tower groups of about this
    #: many robots, each group with its own dispatcher, so that the work per event stays bounded
    #: as the campus grows (one zone up to 29 robots); 0 = one dispatcher for the whole fleet.
    robots_per_zone: Annotated[int, Field(ge=0)] = 20
    #: Parameters handed to the scheduler (its own names, validated by it). The search stops on a
    #: solution count so a run is reproducible; the time limit is only a safety net.
    params: dict[str, Any] = {"solution_limit": 2, "time_limit_s": 10.0}

    @model_validator(mode="after")
    def _check(self) -> Planner:
        if self.max_replan_interval_s < self.min_replan_interval_s:
            raise ValueError("max_replan_interval_s must not be below min_replan_interval_s")
        return self


class LiftOutage(_Strict):
    lift: str
    #: Hours after the start of the simulation (warm-up included).
    start_h: NonNeg
    duration_h: Annotated[float, Field(gt=0)]


class Faults(_Strict):
    #: Mean hours between breakdowns of one robot (clock time); None = no breakdowns.
    robot_mtbf_h: Annotated[float, Field(gt=0)] | None = 250.0
    #: Mean hours to repair (exponential).
    robot_mttr_h: Annotated[float, Field(gt=0)] = 1.5
    #: Minutes for staff to fetch the items on board a broken robot and carry them on by hand.
    recovery_min: NonNeg = 20.0
    lift_outages: list[LiftOutage] = []


class Stages(_Strict):
    """Switch parts of the twin off (to validate a stage alone)."""

    patients: bool = True
    #: Kiosk triage questions + the triage engine + nurses, ED and clinics; off = patients leave after check-in.
    triage: bool = True
    logistics: bool = True


class Scenario(_Strict):
    name: str = "scenario"
    description: str = ""
    #: Campus YAML (relative to the scenario file); None = the shipped 5,037-bed campus.
    campus: str | None = None
    #: Instead of a file: a campus of this many beds built by hospital_ops.campus_gen (as the shipped one).
    campus_beds: Annotated[int, Field(ge=30)] | None = None
    seed: Annotated[int, Field(ge=0)] = 20261125
    #: Day and clock time at which the warm-up starts.
    start_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"
    start_time: str = "22:00"
    warmup_h: NonNeg = 2.0
    #: Hours measured after the warm-up.
    horizon_h: Annotated[float, Field(gt=0)] = 24.0
    demand: Demand = Demand()
    fleet: Fleet = Fleet()
    lifts: Lifts = Lifts()
    kiosks: Kiosks = Kiosks()
    triage: Triage = Triage()
    emergency: EmergencyCare = EmergencyCare()
    clinics: Clinics = Clinics()
    planner: Planner = Planner()
    faults: Faults = Faults()
    stages: Stages = Stages()
    #: Folder of the file the scenario came from (to resolve ``campus``); set by the loader.
    base_dir: str | None = Field(default=None, exclude=True)

    @field_validator("start_time")
    @classmethod
    def _time(cls, v: str) -> str:
        return _hhmm(v)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.campus is not None and self.campus_beds is not None:
            raise ValueError("campus and campus_beds: give one or the other, not both")
        return self

    # ---- derived ---------------------------------------------------------------------------
    @property
    def start_offset_s(self) -> int:
        """Seconds from Monday 00:00 of the first week to the start of the run."""
        return WEEKDAYS.index(self.start_weekday) * 86400 + hhmm_seconds(self.start_time)

    @property
    def warmup_s(self) -> float:
        return self.warmup_h * 3600.0

    @property
    def end_s(self) -> float:
        return (self.warmup_h + self.horizon_h) * 3600.0

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed; dotted names reach into sections: ``fleet.robots=40``."""
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        for key, value in changes.items():
            parts = key.replace("__", ".").split(".")
            node = data
            for p in parts[:-1]:
                node = node[p]
            if parts[-1] not in node:
                raise ScenarioError(f"replace: unknown field '{key}'")
            node[parts[-1]] = value.model_dump() if isinstance(value, BaseModel) else value
        return parse_scenario(data, source="<replace>", base_dir=self.base_dir)


# ---- loading ------------------------------------------------------------------------------------


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``path`` (for suggestions on unknown keys)."""
    model: Any = Scenario
    for p in path:
        if isinstance(p, int):
            continue
        field = model.model_fields.get(p)
        if field is None:
            return None
        ann = field.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
                break
            inner = getattr(cand, "__args__", ())
            sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if sub is not None:
                model = sub
                break
        else:
            return None
    return model


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            valid = sorted(parent.model_fields) if parent is not None else []
            valid = [v for v in valid if v != "base_dir"]
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            lines.append(f"{dotted}: unknown key{hint} (valid keys here: {', '.join(valid)})")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
            lines.append(f"{dotted or '<top>'}: {msg}{shown}")
    return f"{source}: " + ("\n  " if len(lines) > 1 else "") + "\n  ".join(lines)


def parse_scenario(data: Any, source: str = "<memory>", base_dir: str | Path | None = None) -> Scenario:
    """Validate scenario data (as read from YAML) into a :class:`Scenario`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the file must contain a mapping of scenario fields, got {type(data).__name__}")
    if "base_dir" in data and source != "<replace>":
        raise ScenarioError(f"{source}: base_dir: unknown key (it is set by the loader)")
    data = dict(data)
    data["base_dir"] = str(base_dir) if base_dir is not None else data.get("base_dir")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, source)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read the scenario file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML: {exc}") from None
    return parse_scenario(data, source=str(p), base_dir=p.resolve().parent)


SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


def scenario_path(name: str) -> Path:
    """A shipped scenario by name ('default', 'small', …) or a path as given."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return SCENARIO_DIR / f"{name}.yaml"
