"""The twin: one replication of a scenario as SimPy processes.

Patients: arrivals → kiosk (face check-in or ID/QR fallback, triage questions) → the product's
triage engine on a generated case → outpatient clinic, or triage nurse → ED bay. ED patients in a
bay cause specimen and medicine deliveries.

Logistics: wards, the pharmacy and the ED file delivery requests → the product's scheduler
(re-planning on events, at most every ``min_replan_interval_s``, a full search at most every
``full_replan_interval_s``, the fast insertion path in between and at once for STAT) → robots drive
the campus routes: walks take the campus travel time; every lift ride queues for a lift of the
bank (a SimPy resource with the car's robot capacity per lift), waits for the car and rides;
robots carry within their drawer capacity, charge at docks (limited chargers) when low, break down
and get repaired; lifts go out of service as the scenario says.

Time zero is the start of the warm-up; collectors count only what happens after it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from hospital_ops.domain import (
    Capability,
    DeliveryTask,
    Priority,
    Robot,
    RobotMode,
    Stop,
    StopKind,
)
from sim.cases import DEPARTMENT_CLINIC, CaseMaker
from sim.demand import (
    Request,
    ed_lab_priority,
    ed_medication_priority,
    ed_requests_for,
    hourly_arrivals,
    ward_requests,
)
from sim.metrics import Level, Tally
from sim.policy import RateLimitedPolicy, product_policy
from sim.scenario import Scenario
from sim.site import Hop, Site
from sim.streams import Sampler, Streams, lognormal_mean_cv

PRIORITIES = (Priority.STAT, Priority.URGENT, Priority.ROUTINE)


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()


#: How many times a STAT request counts when the twin sizes dispatch zones by expected robot time.
STAT_ZONE_WEIGHT = 2.0


@dataclass(slots=True)
class TaskRec:
    task: DeliveryTask
    source: str
    requested_s: float
    #: open (waiting for pickup) · onboard · delivered
    state: str = "open"
    picked_s: float | None = None
    delivered_s: float | None = None
    #: Carried on by staff after the robot broke down with it on board.
    recovered: bool = False
    #: The promised drop-off time (the planner may have been given an earlier one).
    promised_s: float = 0.0
    #: The robot that picked it up, and the dispatch zone it was in then.
    carrier: str | None = None
    carrier_zone: str | None = None
    #: The dispatch zone that planned it ("" without zones).
    zone: str = ""


@dataclass(slots=True)
class RobotSim:
    id: str
    loc: str
    battery: float
    capabilities: frozenset[Capability]
    home_dock: str
    state: str = "idle"  # idle | busy | charging | fault
    on_board: list[str] = field(default_factory=list)
    #: The leg the dispatcher committed to this robot (its next stops, all at one place).
    commit: tuple[Stop, ...] = ()
    #: Battery level last told to the dispatcher.
    reported_battery: float = 100.0
    wake: simpy.Event | None = None
    fault_pending: float | None = None
    repaired: simpy.Event | None = None
    metres: float = 0.0
    #: Where it is driving to wait for work (``scheduler.staging``), while it does.
    stage_to: str | None = None


@dataclass(slots=True)
class LiftSim:
    id: str
    res: simpy.PriorityResource
    mean_wait_s: float
    down: bool = False
    up_event: simpy.Event | None = None
    queue: int = 0


@dataclass
class RunResult:
    """What one replication returns (picklable; crosses process boundaries)."""

    scenario: str
    replication: int
    policy: str
    kpis: dict[str, float]
    #: Hourly time-averages over the measured window, per series name.
    series: dict[str, list[float]]
    #: Raw observations for distribution plots (turnaround minutes per priority, lift waits …).
    samples: dict[str, list[float]]
    perf: dict[str, float]
    #: Dispatch zones (id → its buildings, in street order); empty with one dispatcher.
    zones: dict[str, list[str]] = field(default_factory=dict)


class Model:
    """``Model(scenario, replication).run()`` → :class:`RunResult`."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        *,
        policy: Any | None = None,
        engine: Any | None = None,
        site: Site | None = None,
    ) -> None:
        self.sc = scenario
        self.rep = replication
        self.site = site if site is not None else Site.build(scenario)
        self.streams = Streams(scenario.seed, replication)
        self.env = CountingEnvironment()
        self.w0 = scenario.warmup_s
        self.end = scenario.end_s
        self.days = scenario.horizon_h / 24.0
        self.policy = policy
        if scenario.stages.logistics and policy is None:
            params = {"battery": {"charge_below_pct": scenario.fleet.battery.low_pct}, **scenario.planner.params}
            self.policy = product_policy(scenario.planner.policy, params)
        self.engine = engine
        if scenario.stages.patients and scenario.stages.triage and self.engine is None:
            from triage_kiosk.triage.engine import TriageEngine

            self.engine = TriageEngine()
        self.cases = CaseMaker.for_engine(self.engine) if self.engine is not None else None

        L = lambda: Level(self.w0, self.end)  # noqa: E731
        T = lambda: Tally(self.w0)  # noqa: E731
        self.levels: dict[str, Level] = {
            name: L()
            for name in (
                "queue_op_kiosk",
                "queue_ed_kiosk",
                "queue_triage",
                "queue_ed_bay",
                "queue_clinic",
                "queue_lift",
                "backlog_tasks",
                "robots_busy",
                "robots_idle",
                "robots_charging",
                "robots_fault",
                "ed_occupied",
            )
        }
        self.tallies: dict[str, Tally] = {
            name: T()
            for name in (
                "wait_op_kiosk",
                "wait_ed_kiosk",
                "wait_triage",
                "wait_ed_bay",
                "wait_clinic",
                "wait_lift",
                "wait_charger",
                "kiosk_service",
            )
        }
        self.counts: dict[str, float] = dict.fromkeys(
            (
                "op_arrivals",
                "op_kiosk_done",
                "ed_kiosk_done",
                "ed_arrivals",
                "ed_treated",
                "clinic_seen",
                "triaged",
                "triage_agree",
                "triage_under",
                "triage_over",
                "escalations",
                "face_fallbacks",
                "redirected_to_ed",
                "replans_full",
                "replans_quick",
                "breakdowns",
                "battery_empty",
                "charges",
                "recovered_by_staff",
                "capacity_violations",
                "staging_moves",
            ),
            0.0,
        )
        self.planner_wall_s = 0.0

        # ---- logistics state
        self.tasks: dict[str, TaskRec] = {}
        self.open_ids: dict[str, None] = {}  # insertion-ordered set of tasks waiting for pickup
        self.robots: dict[str, RobotSim] = {}
        self.lifts: dict[str, LiftSim] = {}
        self.chargers: dict[str, simpy.Resource] = {}
        #: Robots on their way to each dock to charge.
        self._heading: dict[str, int] = {}
        #: Requests filed since the last re-plan (non-STAT ones wait for it).
        self._inbox: list[DeliveryTask] = []
        self._dirty = False
        #: With zones: the zones to re-plan next time.
        self._dirty_zones: set[str] = set()
        self._dirty_ev: simpy.Event | None = None
        self._last_replan = -math.inf
        self._last_full = -math.inf
        self._task_seq = 0
        #: Dispatch zones (``scheduler.zones``), when the scenario asks for them, and the zoned
        #: dispatcher.
        self.zoning: Any = None
        self.zoned: Any = None
        #: Expected robot-seconds per zoned building the zones were sized by.
        self.zone_work: dict[str, float] = {}
        #: STAT pickups filed so far per dispatch zone ("" without zones) and location, and the
        #: staging points derived from them.
        self._stat_pickups: dict[str, Counter[str]] = {}
        self._staging_points: dict[str, dict[str, float]] = {}
        self._staging_refreshed = -math.inf
        self._planner_seed = int(self.streams["planner_seed"].integers(2**31 - 1))

    # ================================================================================ running
    def run(self) -> RunResult:
        t0 = time.perf_counter()
        c0 = time.process_time()
        sc = self.sc
        if sc.stages.patients:
            self._build_patients()
        if sc.stages.logistics:
            self._build_logistics()
        self.env.run(until=self.end)
        wall = time.perf_counter() - t0
        self._cpu_s = time.process_time() - c0
        for lv in self.levels.values():
            lv.close(self.end)
        return self._result(wall)

    # ================================================================================ patients
    def _build_patients(self) -> None:
        sc, env = self.sc, self.env
        self.op_kiosks = simpy.Resource(env, self.site.op_kiosks)
        self.ed_kiosks = simpy.Resource(env, self.site.ed_kiosks)
        self.nurses = simpy.PriorityResource(env, sc.triage.nurses)
        self.bays = simpy.PriorityResource(env, sc.emergency.bays)
        self.clinic_res = {code: simpy.Resource(env, sc.clinics.doctors_per_clinic) for code in self.site.clinics}
        s = self.streams
        k = sc.kiosks
        self.draw_face = Sampler(k.face_s, s["kiosk_face_s"])
        self.draw_fallback = Sampler(k.fallback_s, s["kiosk_fallback_s"])
        self.draw_questions = Sampler(k.questions_s, s["kiosk_questions_s"])
        self.draw_triage = Sampler(sc.triage.service_s, s["triage_s"])
        self.draw_consult = Sampler(sc.clinics.consult_s, s["clinic_s"])
        mult = sc.demand.multiplier
        op = sc.demand.outpatients
        op_times = hourly_arrivals(
            s["op_arrivals"], lambda wd: op.per_weekday.of(wd) * mult, op.hourly_profile, sc.start_offset_s, self.end
        )
        ed = sc.demand.ed
        ed_times = hourly_arrivals(
            s["ed_arrivals"], lambda _wd: ed.arrivals_per_day * mult, ed.hourly_profile, sc.start_offset_s, self.end
        )
        env.process(self._source(op_times, self._outpatient))
        env.process(self._source(ed_times, self._ed_arrival))

    def _source(self, times: np.ndarray, body: Any) -> Any:
        env = self.env
        for i, t in enumerate(times):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(body(i))

    def _kiosk(self, res: simpy.Resource, queue: str, wait: str) -> Any:
        """Check in at a kiosk of ``res`` (and answer the triage questions when triage is on)."""
        env = self.env
        t0 = env.now
        lv = self.levels[queue]
        lv.add(t0, 1)
        with res.request() as req:
            yield req
            lv.add(env.now, -1)
            self.tallies[wait].record(env.now, env.now - t0)
            service = self.draw_face()
            if self.streams["kiosk_face"].random() >= self.sc.kiosks.face_success:
                service += self.draw_fallback()
                if env.now >= self.w0:
                    self.counts["face_fallbacks"] += 1
            if self.sc.stages.triage:
                service += self.draw_questions()
            self.tallies["kiosk_service"].record(env.now, service)
            yield env.timeout(service)

    def _count(self, name: str, n: float = 1.0) -> None:
        if self.env.now >= self.w0:
            self.counts[name] += n

    def _outpatient(self, i: int) -> Any:
        sc = self.sc
        rng = self.streams["op_kiosk_choice"]
        self._count("op_arrivals")
        if rng.random() >= sc.demand.outpatients.kiosk_share:
            # checked in on the app or at a desk: straight to a clinic of their appointment
            if sc.stages.triage and self.site.clinics:
                codes = sorted(self.site.clinics)
                yield from self._clinic(codes[int(rng.integers(len(codes)))])
            return
        yield from self._kiosk(self.op_kiosks, "queue_op_kiosk", "wait_op_kiosk")
        self._count("op_kiosk_done")
        if not sc.stages.triage:
            return
        op = sc.demand.outpatients
        crng = self.streams["op_cases"]
        level = int(crng.choice(5, p=op.acuity_mix)) + 1
        measured = crng.random() < sc.kiosks.vitals_measured_share
        appointment = crng.random() < op.appointment_share
        booked = sorted(self.site.clinics)[int(crng.integers(len(self.site.clinics)))] if self.site.clinics else "GEN"
        case = self._case_maker().make(crng, level, ed=False, vitals_measured=measured, child_share=op.child_share)
        result = self._assess(case, level)
        dest = result.destination
        if appointment and int(result.level) > op.redirect_at_or_below:
            yield from self._clinic(booked)
        elif dest.startswith("opd_"):
            code = DEPARTMENT_CLINIC.get(dest[4:], "GEN")
            if code not in self.site.clinics:
                code = "GEN" if "GEN" in self.site.clinics else booked
            yield from self._clinic(code)
        else:
            self._count("redirected_to_ed")
            yield self.env.timeout(300)  # walk to the ED
            yield from self._ed_care(int(result.level))

    def _case_maker(self) -> CaseMaker:
        if self.cases is None:
            raise RuntimeError("stages.triage: no triage engine, so no patient cases can be made")
        return self.cases

    def _assess(self, case: Any, true_level: int) -> Any:
        if self.engine is None:
            raise RuntimeError("stages.triage: no triage engine to assess patients with")
        result = self.engine.assess(case)
        lv = int(result.level)
        self._count("triaged")
        self._count("triage_agree", lv == true_level)
        self._count("triage_under", lv > true_level)
        self._count("triage_over", lv < true_level)
        self._count("escalations", bool(result.escalate))
        return result

    def _clinic(self, code: str) -> Any:
        env = self.env
        t0 = env.now
        lv = self.levels["queue_clinic"]
        lv.add(t0, 1)
        with self.clinic_res[code].request() as req:
            yield req
            lv.add(env.now, -1)
            self.tallies["wait_clinic"].record(env.now, env.now - t0)
            yield env.timeout(self.draw_consult())
        self._count("clinic_seen")

    def _ed_arrival(self, i: int) -> Any:
        sc = self.sc
        self._count("ed_arrivals")
        crng = self.streams["ed_cases"]
        level = int(crng.choice(5, p=sc.demand.ed.acuity_mix)) + 1
        ambulance = bool(crng.random() < sc.demand.ed.ambulance_share)
        measured = ambulance or crng.random() < sc.kiosks.vitals_measured_share
        if not ambulance:
            yield from self._kiosk(self.ed_kiosks, "queue_ed_kiosk", "wait_ed_kiosk")
            self._count("ed_kiosk_done")
        if not sc.stages.triage:
            return
        case = self._case_maker().make(crng, level, ed=True, ambulance=ambulance, vitals_measured=measured)
        result = self._assess(case, level)
        yield from self._ed_care(int(result.level))

    def _ed_care(self, level: int) -> Any:
        env, sc = self.env, self.sc
        t0 = env.now
        q = self.levels["queue_triage"]
        q.add(t0, 1)
        with self.nurses.request(priority=level) as req:
            yield req
            q.add(env.now, -1)
            self.tallies["wait_triage"].record(env.now, env.now - t0)
            yield env.timeout(self.draw_triage())
        t1 = env.now
        q = self.levels["queue_ed_bay"]
        q.add(t1, 1)
        with self.bays.request(priority=level) as req:
            yield req
            q.add(env.now, -1)
            self.tallies["wait_ed_bay"].record(env.now, env.now - t1)
            occ = self.levels["ed_occupied"]
            occ.add(env.now, 1)
            if sc.stages.logistics:
                for r in ed_requests_for(level, env.now, self.site, sc, self.streams["ed_requests"]):
                    self._new_request(r)
            los = lognormal_mean_cv(self.streams["ed_los"], sc.emergency.los_h[level - 1] * 3600.0, 0.8)
            yield env.timeout(los)
            occ.add(env.now, -1)
        self._count("ed_treated")

    # ================================================================================ logistics
    def _build_logistics(self) -> None:
        from scheduler.dispatcher import Dispatcher
        from scheduler.zones import ZonedDispatcher

        sc, env, site = self.sc, self.env, self.site
        campus = site.campus
        for b in campus.buildings.values():
            for lf in b.lifts:
                cap = sc.lifts.capacity or lf.capacity
                self.lifts[lf.id] = LiftSim(lf.id, simpy.PriorityResource(env, cap), float(lf.mean_wait_s))
        for d in site.docks:
            self.chargers[d] = simpy.Resource(env, sc.fleet.chargers_per_dock)
        rng = self.streams["robot_init"]
        lo, hi = sc.fleet.battery.initial_pct
        n = sc.fleet.robots
        n_cold = round(n * sc.fleet.cold_box_share)
        if sc.fleet.cold_box_share > 0 and n > 0:
            n_cold = max(1, n_cold)
        for i in range(n):
            dock = site.docks[i % len(site.docks)]
            caps = {Capability.LOCKED_DRAWERS}
            if (i * n_cold) // n != ((i + 1) * n_cold) // n:  # cold boxes spread evenly over the fleet
                caps.add(Capability.COLD_BOX)
            r = RobotSim(f"R{i + 1:03d}", dock, float(rng.uniform(lo, hi)), frozenset(caps), dock)
            r.reported_battery = r.battery
            self.robots[r.id] = r
            self.levels["robots_idle"].add(0, 1)
        self._requests = ward_requests(sc, site, self.streams)
        self.rate_policy = RateLimitedPolicy(self.policy, site.travel_s, sc.fleet.service_s)
        kwargs: dict[str, Any] = {
            "policy": self.rate_policy,
            "now_s": 0,
            "seed": self._planner_seed,
            "fast_priorities": (Priority.STAT,) if sc.planner.insert_stat_at_once else (),
        }
        zoning = self._plan_zones() if sc.planner.robots_per_zone and n > 0 else None
        if zoning is not None and len(zoning.zones) > 1:  # one zone is the plain dispatcher
            self.zoning = zoning
            for z in self.zoning.zones:  # each zone's robots start at (and return to) its own docks
                for k, rid in enumerate(z.robots):
                    r = self.robots[rid]
                    r.loc = r.home_dock = z.docks[k % len(z.docks)]
            self.zoned = ZonedDispatcher.build(
                self.zoning, site.travel, [self._robot_view(r) for r in self.robots.values()], **kwargs
            )
            self.dispatcher: Dispatcher | ZonedDispatcher = self.zoned
        else:
            self.dispatcher = Dispatcher(
                site.travel, [self._robot_view(r) for r in self.robots.values()], docks=site.docks, **kwargs
            )
        for r in self.robots.values():
            env.process(self._robot(r))
            if sc.faults.robot_mtbf_h is not None:
                env.process(self._failures(r))
        for outage in sc.faults.lift_outages:
            env.process(self._lift_outage(outage.lift, outage.start_h * 3600.0, outage.duration_h * 3600.0))
        env.process(self._request_source())
        env.process(self._replanner())

    def _plan_zones(self) -> Any:
        """Dispatch zones sized by the robot time the day's requests will need in each tower (and
        the ED): trip plus hand-overs per request, STAT requests counted ``STAT_ZONE_WEIGHT`` times
        (a STAT request needs a robot free nearby, not just robot time). Sized once per scenario,
        from replication 0's ward requests, so every replication has the same zones (as a
        hospital sets its zones from past demand, not from the day to come)."""
        from scheduler.zones import ZONED_KINDS, plan_zones

        sc, site = self.sc, self.site
        campus = site.campus
        building = {loc.id: loc.building for loc in campus.locations.values()}
        service = 2 * sc.fleet.service_s
        work: dict[str, float] = {}

        def add(pickup: str, dropoff: str, priority: Priority, n: float) -> None:
            zoned = [b for b in (building[pickup], building[dropoff]) if campus.buildings[b].kind in ZONED_KINDS]
            if zoned:
                weight = STAT_ZONE_WEIGHT if priority is Priority.STAT else 1.0
                work[zoned[0]] = work.get(zoned[0], 0.0) + n * weight * (site.travel_s(pickup, dropoff) + service)

        history = self._requests if self.rep == 0 else ward_requests(sc, site, Streams(sc.seed, 0))
        for req in history:
            add(req.pickup, req.dropoff, req.priority, 1.0)
        # the ED's requests come from its patients as they reach a bay: their expected number
        ed = sc.demand.ed
        arrivals = ed.arrivals_per_day * sc.demand.multiplier * sc.end_s / 86400.0
        total = sum(ed.acuity_mix)
        for level, mix in enumerate(ed.acuity_mix, start=1):
            spot = site.ed_spot.get(level)
            if spot is None or not site.lab:
                continue
            n = arrivals * mix / total
            add(spot, site.lab, ed_lab_priority(level), n * ed.lab_share[level - 1])
            add(site.pharmacy, spot, ed_medication_priority(level), n * ed.medication_share[level - 1])
        self.zone_work = work
        views = [self._robot_view(r) for r in self.robots.values()]
        return plan_zones(campus, views, robots_per_zone=sc.planner.robots_per_zone, work=work, docks=site.docks)

    def _robot_view(
        self,
        r: RobotSim,
        mode: RobotMode = RobotMode.IDLE,
        available_s: float | None = None,
        location: str | None = None,
    ) -> Robot:
        """The robot as the dispatcher sees it (``on_board`` is the dispatcher's own business)."""
        fleet = self.sc.fleet
        return Robot(
            id=r.id,
            location=location or r.loc,
            available_s=math.ceil(self.env.now if available_s is None else available_s),
            capacity_units=fleet.capacity_units,
            capabilities=r.capabilities,
            speed_mps=fleet.speed_mps,
            battery_pct=min(100.0, max(0.0, r.battery)),
            consumption_pct_per_km=fleet.battery.consumption_pct_per_km,
            min_battery_pct=min(15.0, fleet.battery.low_pct),
            mode=mode,
            on_board=tuple(r.on_board),
            home_dock=r.home_dock,
        )

    # ---- talking to the dispatcher -------------------------------------------------------------
    def _handle(self, event: Any, mode: str = "hold") -> None:
        """Feed one event to the product's dispatcher and hand the robots their committed legs."""
        self.rate_policy.mode = mode
        t0 = time.perf_counter()
        decision = self.dispatcher.handle(event)
        self.planner_wall_s += time.perf_counter() - t0
        self._sync(decision)
        if decision.replan_pending:
            self._mark_dirty(self.zoned.zone_of(decision) if self.zoned is not None else None)

    def _sync(self, decision: Any) -> None:
        commitments = decision.commitments
        scope = decision.scope
        # a zone's robots in id order: set order varies between processes, wake-up order must not
        for r in self.robots.values() if scope is None else (self.robots[rid] for rid in sorted(scope)):
            c = commitments.get(r.id, ())
            if c != r.commit:
                r.commit = c
                if c and r.wake is not None and not r.wake.triggered:
                    r.wake.succeed()

    def _request_source(self) -> Any:
        env = self.env
        for r in self._requests:
            if r.at_s > env.now:
                yield env.timeout(r.at_s - env.now)
            self._new_request(r)

    def _new_request(self, r: Request) -> None:
        from scheduler.dispatcher import TaskAdded

        now = self.env.now
        self._task_seq += 1
        task = DeliveryTask(
            id=f"{r.source}-{self._task_seq:06d}",
            pickup=r.pickup,
            dropoff=r.dropoff,
            priority=r.priority,
            earliest_s=int(now),
            deadline_s=max(int(now), int(r.deadline_s) - self.sc.planner.deadline_margin_s),
            kind=r.kind,
            units=min(r.units, self.sc.fleet.capacity_units),
            handling=r.handling,
            requester=r.source,
            service_s=self.sc.fleet.service_s,
        )
        zone = self.zoned.zone_for(task) if self.zoned is not None else ""
        self.tasks[task.id] = TaskRec(task, r.source, now, promised_s=max(now, r.deadline_s), zone=zone)
        if r.priority is Priority.STAT:
            self._stat_pickups.setdefault(zone, Counter())[r.pickup] += 1

        self.open_ids[task.id] = None
        self.levels["backlog_tasks"].add(now, 1)
        if r.priority is Priority.STAT and self.sc.planner.insert_stat_at_once:
            self._handle(TaskAdded(task, int(now)))  # the dispatcher's fast path
        else:
            self._inbox.append(task)  # planned together at the next re-plan
            self._mark_dirty(zone or None)

    # ---- re-planning ---------------------------------------------------------------------------
    def _robot_zone(self, r: RobotSim) -> str | None:
        return self.zoned.robot_zone(r.id) if self.zoned is not None else None

    def _mark_dirty(self, zone: str | None = None) -> None:
        """Ask for a re-plan: of ``zone`` only (with dispatch zones), or of every zone."""
        self._dirty = True
        if self.zoned is not None:
            if zone is None:
                self._dirty_zones.update(self.zoned.zoning.ids)
            else:
                self._dirty_zones.add(zone)
        if self._dirty_ev is not None and not self._dirty_ev.triggered:
            self._dirty_ev.succeed()

    def _replanner(self) -> Any:
        env, p = self.env, self.sc.planner
        while True:
            if not self._dirty:
                self._dirty_ev = env.event()
                wait = self._last_replan + p.max_replan_interval_s - env.now
                yield self._dirty_ev | env.timeout(wait if wait > 0 else p.max_replan_interval_s)
                self._dirty_ev = None
                if not self._dirty:  # the periodic re-plan: every zone
                    self._mark_dirty()
            gap = self._last_replan + p.min_replan_interval_s - env.now
            if gap > 0:
                yield env.timeout(gap)
            self._do_replan(full=env.now - self._last_full >= p.full_replan_interval_s)

    def _do_replan(self, full: bool) -> None:
        """Re-plan (fully, or with the fast path); with zones, a quick re-plan covers the zones
        something happened in since their last one."""
        env = self.env
        self._dirty = False
        zones = None if full or self.zoned is None else sorted(self._dirty_zones)
        self._dirty_zones = set()
        self._last_replan = env.now
        if full:
            self._last_full = env.now
        if not self._inbox and not self.dispatcher.tasks and not any(r.commit for r in self.robots.values()):
            return
        self.rate_policy.mode = "full" if full else "insert"
        t0 = time.perf_counter()
        if self.zoned is not None:
            batch, self._inbox = self._inbox, []
            decision = self.zoned.load(batch, int(env.now), zones=zones)
        elif self._inbox:
            batch, self._inbox = self._inbox, []
            decision = self.dispatcher.load(batch, int(env.now))
        else:
            decision = self.dispatcher.replan(int(env.now))
        self.planner_wall_s += time.perf_counter() - t0
        self.counts["replans_full" if full else "replans_quick"] += 1
        self._sync(decision)

    # ---- robots -------------------------------------------------------------------------------
    def _set_state(self, r: RobotSim, state: str) -> None:
        if r.state != state:
            now = self.env.now
            self.levels[f"robots_{r.state}"].add(now, -1)
            self.levels[f"robots_{state}"].add(now, 1)
            r.state = state

    def _robot(self, r: RobotSim) -> Any:
        from scheduler.dispatcher import TaskDelivered, TaskPickedUp

        env, sc = self.env, self.sc
        fleet = sc.fleet
        while True:
            if r.fault_pending is not None:
                yield from self._breakdown(r)
                continue
            if not r.commit:
                if not r.on_board and r.battery < fleet.battery.low_pct:
                    yield from self._charge(r, self._pick_dock(r), own=True)
                    continue
                if r.on_board:  # should not happen: items without a committed drop-off
                    self._mark_dirty(self._robot_zone(r))
                self._set_state(r, "idle")
                target = self._staging_target(r) if sc.planner.staging and not r.on_board else None
                if target is not None and target != r.loc:
                    yield from self._stage(r, target)
                    continue
                if self.open_ids:
                    self._mark_dirty(self._robot_zone(r))
                r.wake = env.event()
                yield r.wake
                r.wake = None
                continue
            stop = r.commit[0]
            if stop.kind is StopKind.CHARGE:
                yield from self._charge(
                    r, stop.location if stop.location in self.chargers else self._pick_dock(r), own=False
                )
                continue
            self._set_state(r, "busy")
            if r.loc != stop.location:
                arrived = yield from self._drive(r, stop.location)
                if not arrived:  # broke down on the way; the dispatcher has re-planned its work
                    continue
            yield env.timeout(fleet.service_s)
            tid = stop.task_id or ""
            rec = self.tasks[tid]
            now = int(env.now)
            if stop.kind is StopKind.PICKUP:
                rec.state = "onboard"
                rec.picked_s = env.now
                rec.carrier = r.id
                if self.zoned is not None:
                    rec.carrier_zone = self.zoned.robot_zone(r.id)
                r.on_board.append(tid)
                if sum(self.tasks[t].task.units for t in r.on_board) > fleet.capacity_units:
                    self.counts["capacity_violations"] += 1
                if self.open_ids.pop(tid, 0) is None:
                    self.levels["backlog_tasks"].add(env.now, -1)
                self._handle(TaskPickedUp(tid, r.id, now))
            else:
                rec.state = "delivered"
                rec.delivered_s = env.now
                r.on_board.remove(tid)
                self._handle(TaskDelivered(tid, r.id, now))
            self._report_battery(r)
            if not r.commit and not r.on_board:
                self._mark_dirty(self._robot_zone(r))

    def _staging_target(self, r: RobotSim) -> str | None:
        """Where the idle robot ``r`` should wait (``scheduler.staging``): one point per building,
        the medoid of its STAT pickup places so far, weighted by its STAT pickups so far (refreshed
        hourly; no staging before the first STAT request). With dispatch zones, a robot stages
        among its zone's robots, at its zone's STAT pickups."""
        from scheduler.staging import staging_targets

        now = self.env.now
        if now - self._staging_refreshed >= 3600.0:
            self._staging_refreshed = now
            self._staging_points = {z: self._staging_points_now(c) for z, c in self._stat_pickups.items()}
        zone = self.zoned.robot_zone(r.id) if self.zoned is not None else ""
        points = self._staging_points.get(zone)
        if not points:
            return None
        mates = self.robots.values() if self.zoned is None else (self.robots[x] for x in self.zoned.members(zone))
        idle = {
            x.id: x.stage_to or x.loc
            for x in mates
            if x is r or (x.state == "idle" and not x.commit and not x.on_board and x.fault_pending is None)
        }
        return staging_targets(idle, points, self.site.travel_s)[r.id]

    def _staging_points_now(self, stat_pickups: Counter[str]) -> dict[str, float]:
        locations = self.site.campus.locations
        by_building: dict[str, Counter[str]] = {}
        for loc, n in stat_pickups.items():
            by_building.setdefault(locations[loc].building, Counter())[loc] += n
        points: dict[str, float] = {}
        for counts in by_building.values():
            places = sorted(counts)
            medoid = min(
                places, key=lambda a: (sum(n * self.site.travel_s(a, b) for b, n in counts.items() if b != a), a)
            )
            points[medoid] = points.get(medoid, 0.0) + float(sum(counts.values()))
        return points

    def _stage(self, r: RobotSim, target: str) -> Any:
        """Drive the idle robot to its staging point; the dispatcher plans it from there, from its
        expected arrival (work committed meanwhile starts when it gets there)."""
        from scheduler.dispatcher import RobotStateUpdate

        env = self.env
        r.stage_to = target
        eta = env.now + self.site.travel_s(r.loc, target)
        self._handle(
            RobotStateUpdate(self._robot_view(r, RobotMode.IDLE, available_s=eta, location=target), int(env.now))
        )
        self._count("staging_moves")
        yield from self._drive(r, target)
        r.stage_to = None
        self._report_battery(r)

    def _report_battery(self, r: RobotSim) -> None:
        """Tell the dispatcher the battery level each time it has fallen another 10 points."""
        from scheduler.dispatcher import RobotStateUpdate

        if r.reported_battery - r.battery >= 10.0:
            r.reported_battery = r.battery
            mode = RobotMode.BUSY if r.commit else RobotMode.IDLE
            loc = r.loc
            self._handle(RobotStateUpdate(self._robot_view(r, mode, location=loc), int(self.env.now)))

    def _drive(self, r: RobotSim, dest: str) -> Any:
        """Drive to ``dest``; False if the robot broke down on the way (it is then at ``dest``
        after its repair, its work given to others)."""
        env = self.env
        bat = self.sc.fleet.battery
        broke = False
        for hop in self.site.route(r.loc, dest):
            if hop.lift is None:
                yield env.timeout(hop.seconds)
            else:
                yield from self._ride(hop)
            if hop.metres:
                if env.now >= self.w0:
                    r.metres += hop.metres
                r.battery -= hop.metres / 1000.0 * bat.consumption_pct_per_km
                if r.battery < 0:
                    r.battery = 0.0
                    self._count("battery_empty")
            if r.fault_pending is not None:
                yield from self._breakdown(r, finish_trip=True)
                broke = True
        r.loc = dest
        if broke:
            yield from self._back_in_service(r)
        return not broke

    def _choose_lift(self, bank: tuple[str, ...]) -> LiftSim | None:
        best: LiftSim | None = None
        best_load = math.inf
        for lid in bank:
            lift = self.lifts[lid]
            if lift.down:
                continue
            load = (lift.res.count + lift.queue) / lift.res.capacity
            if load < best_load:
                best, best_load = lift, load
        return best

    def _ride(self, hop: Hop) -> Any:
        env = self.env
        t0 = env.now
        qlv = self.levels["queue_lift"]
        qlv.add(t0, 1)
        lift = self._choose_lift(hop.bank)
        while lift is None:  # the whole bank is out of service: wait for the first one back
            events = [ev for lid in hop.bank if (ev := self.lifts[lid].up_event) is not None]
            yield env.any_of(events) if events else env.timeout(60)
            lift = self._choose_lift(hop.bank)
        lift.queue += 1
        with lift.res.request(priority=1) as req:
            yield req
            lift.queue -= 1
            qlv.add(env.now, -1)
            self.tallies["wait_lift"].record(env.now, env.now - t0)
            if self.sc.lifts.car_wait == "exponential":
                car = float(self.streams["lift_car"].exponential(lift.mean_wait_s)) if lift.mean_wait_s > 0 else 0.0
            else:
                car = lift.mean_wait_s
            yield env.timeout(car + max(0.0, hop.seconds - lift.mean_wait_s))

    def _lift_outage(self, lift_id: str, start: float, duration: float) -> Any:
        env = self.env
        lift = self.lifts[lift_id]
        if start > 0:
            yield env.timeout(start)
        lift.down = True
        lift.up_event = env.event()
        cars = lift.res.capacity
        if not isinstance(cars, int):  # simpy types capacity as int | float (it allows float("inf"))
            raise TypeError(f"lift {lift_id}: capacity must be a whole number of cars, got {cars!r}")
        reqs = [lift.res.request(priority=0) for _ in range(cars)]
        yield env.timeout(duration)
        for req in reqs:
            if req.triggered:
                lift.res.release(req)
            else:
                req.cancel()
        lift.down = False
        up, lift.up_event = lift.up_event, None
        up.succeed()

    def _pick_dock(self, r: RobotSim) -> str:
        """The dock where the robot would start charging soonest: travel there plus the expected
        wait for a charger (robots ahead of it, each taking a full charge, over the chargers)."""
        bat = self.sc.fleet.battery
        full_s = (bat.resume_pct - bat.low_pct) / bat.charge_pct_per_h * 3600.0

        def cost(d: str) -> tuple[float, str]:
            res = self.chargers[d]
            ahead = res.count + len(res.queue) + self._heading.get(d, 0) - res.capacity + 1
            return self.site.travel_s(r.loc, d) + max(0, ahead) * full_s / res.capacity, d

        return min(self.chargers, key=cost)

    def _charge(self, r: RobotSim, dock: str, *, own: bool) -> Any:
        """Drive to ``dock``, queue for a charger, charge to the resume level, report available.

        ``own``: the robot decided itself (battery low, nothing to do) rather than the plan's
        CHARGE stop; it tells the dispatcher it is charging (and until when) first."""
        from scheduler.dispatcher import RobotAvailable, RobotStateUpdate

        env = self.env
        bat = self.sc.fleet.battery
        self._set_state(r, "charging")
        need = max(0.0, bat.resume_pct - r.battery) / bat.charge_pct_per_h * 3600.0
        if own:
            until = env.now + self.site.travel_s(r.loc, dock) + need
            view = self._robot_view(r, RobotMode.CHARGING, available_s=until, location=dock)
            self._handle(RobotStateUpdate(dataclasses.replace(view, battery_pct=bat.resume_pct), int(env.now)))
        self._heading[dock] = self._heading.get(dock, 0) + 1
        if r.loc != dock:
            arrived = yield from self._drive(r, dock)
            if not arrived:
                self._heading[dock] -= 1
                return
        self._heading[dock] -= 1
        t0 = env.now
        with self.chargers[dock].request() as req:
            yield req
            self.tallies["wait_charger"].record(env.now, env.now - t0)
            need = max(0.0, bat.resume_pct - r.battery) / bat.charge_pct_per_h * 3600.0
            self._count("charges")
            yield env.timeout(need)
            r.battery = max(r.battery, bat.resume_pct)
        r.reported_battery = r.battery
        self._set_state(r, "idle")
        self._handle(RobotAvailable(self._robot_view(r), int(env.now)))
        self._mark_dirty(self._robot_zone(r))

    # ---- faults -------------------------------------------------------------------------------
    def _failures(self, r: RobotSim) -> Any:
        env, f = self.env, self.sc.faults
        up_rng, fix_rng = self.streams["robot_failures"], self.streams["robot_repairs"]
        assert f.robot_mtbf_h is not None
        while True:
            yield env.timeout(float(up_rng.exponential(f.robot_mtbf_h * 3600.0)))
            r.fault_pending = float(fix_rng.exponential(f.robot_mttr_h * 3600.0))
            r.repaired = env.event()
            if r.wake is not None and not r.wake.triggered:
                r.wake.succeed()
            yield r.repaired

    def _breakdown(self, r: RobotSim, finish_trip: bool = False) -> Any:
        """The robot stops for its repair. The dispatcher gives its planned work to others and
        raises a recovery alert for what is in its drawers: staff fetch those items and carry them
        on by hand (``faults.recovery_min``)."""
        from scheduler.dispatcher import RobotFault

        env = self.env
        repair = r.fault_pending or 0.0
        r.fault_pending = None
        self._set_state(r, "fault")
        self._count("breakdowns")
        carried = list(r.on_board)
        r.on_board.clear()
        self._handle(RobotFault(r.id, int(env.now), "breakdown"))
        for tid in carried:
            env.process(self._recover(tid))
        self._mark_dirty(self._robot_zone(r))
        yield env.timeout(repair)
        if r.repaired is not None and not r.repaired.triggered:
            r.repaired.succeed()
        if not finish_trip:
            yield from self._back_in_service(r)

    def _back_in_service(self, r: RobotSim) -> Any:
        from scheduler.dispatcher import RobotAvailable

        self._set_state(r, "idle")
        r.reported_battery = r.battery
        self._handle(RobotAvailable(self._robot_view(r), int(self.env.now)))
        self._mark_dirty(self._robot_zone(r))
        if False:  # pragma: no cover  (a generator)
            yield

    def _recover(self, tid: str) -> Any:
        rec = self.tasks[tid]
        yield self.env.timeout(self.sc.faults.recovery_min * 60.0)
        rec.state = "delivered"
        rec.delivered_s = self.env.now
        rec.recovered = True
        self._count("recovered_by_staff")

    # ================================================================================ results
    def _result(self, wall: float) -> RunResult:
        sc = self.sc
        days = self.days
        span = self.end - self.w0
        k: dict[str, float] = {}
        nan = float("nan")

        # deliveries
        measured = [rec for rec in self.tasks.values() if rec.requested_s >= self.w0]
        delivered = [rec for rec in self.tasks.values() if rec.delivered_s is not None and rec.delivered_s >= self.w0]
        k["requests_per_day"] = len(measured) / days
        k["deliveries_per_day"] = len(delivered) / days
        samples: dict[str, list[float]] = {}
        for p in PRIORITIES:
            ta = np.array(
                [
                    (rec.delivered_s - rec.requested_s) / 60.0
                    for rec in measured
                    if rec.task.priority is p and rec.delivered_s is not None
                ]
            )
            samples[f"turnaround_min_{p.value}"] = ta.tolist()
            pw = [
                (rec.picked_s - rec.requested_s) / 60.0
                for rec in measured
                if rec.task.priority is p and rec.picked_s is not None
            ]
            k[f"to_pickup_mean_min_{p.value}"] = float(np.mean(pw)) if pw else nan
            for q in (50, 90, 95):
                k[f"turnaround_p{q}_min_{p.value}"] = float(np.percentile(ta, q)) if len(ta) else nan
            # on time: due within the run; late if delivered after the deadline or not delivered by then
            due = [rec for rec in measured if rec.task.priority is p and rec.promised_s <= self.end]
            ok = sum(1 for rec in due if rec.delivered_s is not None and rec.delivered_s <= rec.promised_s)
            k[f"on_time_pct_{p.value}"] = 100.0 * ok / len(due) if due else nan
        k["stat_on_time_pct"] = k["on_time_pct_stat"]
        if self.zoning is not None:  # per dispatch zone: which tower group is short of robots
            for zone in self.zoning.zones:
                mine = [rec for rec in measured if rec.zone == zone.id]
                k[f"zone_{zone.id}_robots"] = float(len(zone.robots))
                k[f"zone_{zone.id}_requests_per_day"] = len(mine) / days
                for p in (Priority.STAT, Priority.URGENT):
                    due = [rec for rec in mine if rec.task.priority is p and rec.promised_s <= self.end]
                    ok = sum(1 for rec in due if rec.delivered_s is not None and rec.delivered_s <= rec.promised_s)
                    k[f"zone_{zone.id}_on_time_pct_{p.value}"] = 100.0 * ok / len(due) if due else nan
        k["backlog_tasks_end"] = float(len(self.open_ids))
        undelivered = sum(1 for rec in self.tasks.values() if rec.state != "delivered")
        k["undelivered_end"] = float(undelivered)

        # robots
        n = max(1, sc.fleet.robots) if sc.stages.logistics else 1
        for state in ("busy", "idle", "charging", "fault"):
            k[f"robot_{state}_fraction"] = (
                self.levels[f"robots_{state}"].mean() / n if sc.stages.logistics and sc.fleet.robots else nan
            )
        k["robot_utilisation"] = k["robot_busy_fraction"]
        km = sum(r.metres for r in self.robots.values()) / 1000.0
        k["robot_km_per_robot_day"] = km / n / days if self.robots else nan
        k["fleet_km_per_day"] = km / days
        k["charging_h_per_robot_day"] = k["robot_charging_fraction"] * 24.0 if self.robots else nan
        k["charges_per_day"] = self.counts["charges"] / days
        k["breakdowns_per_day"] = self.counts["breakdowns"] / days
        k["staging_moves_per_day"] = self.counts["staging_moves"] / days
        k["battery_empty_per_day"] = self.counts["battery_empty"] / days
        k["recovered_by_staff_per_day"] = self.counts["recovered_by_staff"] / days
        #: pickups that would have overfilled the drawers (the plan must never ask for one)
        k["capacity_violations"] = self.counts["capacity_violations"]

        # lifts
        wl = self.tallies["wait_lift"]
        k["lift_wait_mean_s"] = wl.mean()
        k["lift_wait_p90_s"] = wl.quantile(0.9)
        k["lift_wait_p95_s"] = wl.quantile(0.95)
        k["lift_rides_per_day"] = len(wl) / days
        samples["lift_wait_s"] = wl.values

        # patients
        for name in ("wait_op_kiosk", "wait_ed_kiosk", "wait_triage", "wait_clinic"):
            t = self.tallies[name]
            k[f"{name}_mean_s"] = t.mean()
            k[f"{name}_p90_s"] = t.quantile(0.9)
        t = self.tallies["wait_ed_bay"]
        k["wait_ed_bay_mean_min"] = t.mean() / 60.0 if len(t) else nan
        k["kiosk_service_mean_s"] = self.tallies["kiosk_service"].mean()
        samples["wait_op_kiosk_s"] = self.tallies["wait_op_kiosk"].values
        k["op_arrivals_per_day"] = self.counts["op_arrivals"] / days
        k["ed_arrivals_per_day"] = self.counts["ed_arrivals"] / days
        k["checkins_per_day"] = (self.counts["op_kiosk_done"] + self.counts["ed_kiosk_done"]) / days
        k["op_kiosk_checkins_per_h"] = self.counts["op_kiosk_done"] / (span / 3600.0)
        k["ed_treated_per_day"] = self.counts["ed_treated"] / days
        k["clinic_seen_per_day"] = self.counts["clinic_seen"] / days
        tri = self.counts["triaged"]
        k["triage_agreement_pct"] = 100.0 * self.counts["triage_agree"] / tri if tri else nan
        k["triage_under_pct"] = 100.0 * self.counts["triage_under"] / tri if tri else nan
        k["triage_over_pct"] = 100.0 * self.counts["triage_over"] / tri if tri else nan
        k["escalations_per_day"] = self.counts["escalations"] / days
        k["face_fallback_pct"] = (
            100.0 * self.counts["face_fallbacks"] / (self.counts["op_kiosk_done"] + self.counts["ed_kiosk_done"])
            if self.counts["op_kiosk_done"] + self.counts["ed_kiosk_done"]
            else nan
        )
        k["redirected_to_ed_per_day"] = self.counts["redirected_to_ed"] / days

        # time-weighted queue lengths
        for name in (
            "queue_op_kiosk",
            "queue_ed_kiosk",
            "queue_triage",
            "queue_ed_bay",
            "queue_clinic",
            "queue_lift",
            "backlog_tasks",
            "ed_occupied",
        ):
            k[f"{name}_mean"] = self.levels[name].mean()

        k["replans_per_h"] = (self.counts["replans_full"] + self.counts["replans_quick"]) / (self.end / 3600.0)
        k["full_replans_per_h"] = self.counts["replans_full"] / (self.end / 3600.0)
        series = {name: lv.hourly().tolist() for name, lv in self.levels.items()}
        if self.robots:
            series["robot_utilisation"] = (self.levels["robots_busy"].hourly() / n).tolist()
        events = self.env.events_processed
        perf = {
            "wall_s": wall,
            "cpu_s": self._cpu_s,
            "events": float(events),
            "events_per_s": events / wall if wall > 0 else nan,
            "planner_s": self.planner_wall_s,
            **(
                {f"planner_{mode}_s": sec for mode, sec in self.rate_policy.seconds.items()}
                | {f"planner_{mode}_calls": float(n) for mode, n in self.rate_policy.calls.items()}
                if hasattr(self, "rate_policy")
                else {}
            ),
            "replans_full": self.counts["replans_full"],
            "replans_quick": self.counts["replans_quick"],
            "planner_ms_per_replan": 1000.0
            * self.planner_wall_s
            / max(1.0, self.counts["replans_full"] + self.counts["replans_quick"]),
            "tasks": float(len(self.tasks)),
            "simulated_h": self.end / 3600.0,
        }
        zones = {z.id: list(z.buildings) for z in self.zoning.zones} if self.zoning is not None else {}
        return RunResult(
            sc.name, self.rep, self.policy.name if self.policy is not None else "-", k, series, samples, perf, zones
        )


def run_replication(scenario: Scenario, replication: int, policy_name: str | None = None) -> RunResult:
    """One replication in this process (the unit of work the runner distributes)."""
    sc = scenario if policy_name is None else scenario.replace(**{"planner.policy": policy_name})
    return Model(sc, replication).run()
