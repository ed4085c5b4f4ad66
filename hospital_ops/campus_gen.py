"""Generate campus descriptions of a given size.

The default campus file (``data/campus.yaml``, 5,037 beds) was written by this generator and is
then an ordinary, hand-editable file. The generator stays because the digital twin needs
campuses of other sizes (1,000 / 2,500 / 5,037 beds) built the same way to show how cost grows.

Layout (modelled on a large Chinese medical city such as the Xi'an International Medical Center):
inpatient towers T1..Tn on a street, 18 floors above ground and a basement logistics tunnel (B1)
joining every building; a medical-technology building (MT) with the central pharmacy and the
central laboratory; an outpatient building (OP) with self-service kiosks; an emergency
department (ED) with its own kiosks, triage rooms and resuscitation bays. Charging docks in each
tower's B1. Service lifts in every tower.
"""

from __future__ import annotations

from typing import Any

#: Departments whose wards fill the towers, with Chinese names (cycled tower by tower).
DEPARTMENTS: list[tuple[str, str]] = [
    ("Cardiology", "心内科"),
    ("Cardiac Surgery", "心外科"),
    ("Oncology", "肿瘤科"),
    ("Haematology", "血液科"),
    ("Neurology", "神经内科"),
    ("Neurosurgery", "神经外科"),
    ("Orthopaedics", "骨科"),
    ("General Surgery", "普外科"),
    ("Respiratory Medicine", "呼吸内科"),
    ("Gastroenterology", "消化内科"),
    ("Nephrology", "肾内科"),
    ("Endocrinology", "内分泌科"),
    ("Urology", "泌尿外科"),
    ("Obstetrics", "产科"),
    ("Gynaecology", "妇科"),
    ("Paediatrics", "儿科"),
    ("Geriatrics", "老年病科"),
    ("Infectious Diseases", "感染科"),
    ("Rehabilitation", "康复科"),
    ("Thoracic Surgery", "胸外科"),
    ("Hepatobiliary Surgery", "肝胆外科"),
]

#: Outpatient departments (destinations the triage kiosk may send a patient to).
OUTPATIENT_DEPTS: list[tuple[str, str, str]] = [
    ("GEN", "General Medicine Clinic", "全科门诊"),
    ("CARD", "Cardiology Clinic", "心内科门诊"),
    ("RESP", "Respiratory Clinic", "呼吸科门诊"),
    ("GI", "Gastroenterology Clinic", "消化科门诊"),
    ("NEURO", "Neurology Clinic", "神经科门诊"),
    ("ORTHO", "Orthopaedics Clinic", "骨科门诊"),
    ("SURG", "General Surgery Clinic", "普外科门诊"),
    ("OBGYN", "Obstetrics & Gynaecology Clinic", "妇产科门诊"),
    ("PAED", "Paediatrics Clinic", "儿科门诊"),
    ("ENT", "ENT Clinic", "耳鼻喉科门诊"),
    ("EYE", "Ophthalmology Clinic", "眼科门诊"),
    ("DERM", "Dermatology Clinic", "皮肤科门诊"),
    ("URO", "Urology Clinic", "泌尿外科门诊"),
    ("DENT", "Dental Clinic", "口腔科门诊"),
    ("PSY", "Psychiatry Clinic", "精神心理门诊"),
    ("FEVER", "Fever Clinic", "发热门诊"),
]

TOWER_FLOORS = ["B1", *[str(f) for f in range(1, 19)]]
WARD_FLOORS = [str(f) for f in range(4, 19)]  # 15 ward floors per tower
BED_PATTERN = [48, 50, 46, 48, 44, 50, 48, 42, 50, 46]


def _ward_sizes(total_beds: int, wards: int) -> list[int]:
    """Ward sizes from a realistic pattern, adjusted so they sum to exactly ``total_beds``."""
    sizes = [BED_PATTERN[i % len(BED_PATTERN)] for i in range(wards)]
    diff = total_beds - sum(sizes)
    i = 0
    while diff != 0:
        step = 1 if diff > 0 else -1
        j = i % wards
        if 30 <= sizes[j] + step <= 50:
            sizes[j] += step
            diff -= step
        i += 1
        if i > 100 * wards:
            raise ValueError(f"cannot fit {total_beds} beds into {wards} wards of 30-50 beds")
    return sizes


def _lift(lid: str, floors: list[str], capacity: int = 2) -> dict[str, Any]:
    return {
        "id": lid,
        "floors": floors,
        "capacity": capacity,  # robots at once
        "seconds_per_floor": 2.0,  # 4 m floors at 2 m/s
        "door_s": 6,  # open + close
        "mean_wait_s": 25,  # expected wait for the car to arrive
    }


def generate_campus(total_beds: int = 5037, towers: int | None = None, name: str | None = None) -> dict[str, Any]:
    """A campus description (the YAML's data) with exactly ``total_beds`` inpatient beds."""
    if total_beds < 30:
        raise ValueError("total_beds: a campus needs at least one ward of 30 beds")
    wards_needed = max(1, round(total_beds / 48))
    if towers is None:
        towers = max(1, -(-wards_needed // len(WARD_FLOORS)))
    ward_slots = towers * len(WARD_FLOORS)
    wards_total = min(wards_needed, ward_slots)
    sizes = _ward_sizes(total_beds, wards_total)

    buildings: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    wards: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []

    dept_i = 0
    ward_i = 0
    for t in range(1, towers + 1):
        bid = f"T{t}"
        ox = (t - 1) * 90.0
        buildings.append(
            {
                "id": bid,
                "name": f"Inpatient Tower {t}",
                "name_zh": f"住院{t}号楼",
                "kind": "inpatient_tower",
                "floors": TOWER_FLOORS,
                "origin": [ox, 0.0],
                "lifts": [_lift(f"{bid}-L{k}", TOWER_FLOORS) for k in (1, 2, 3)],
            }
        )
        for k in (1, 2):
            locations.append(
                {"id": f"{bid}-B1-DOCK{k}", "kind": "dock", "building": bid, "floor": "B1", "xy": [ox + 8 * k, -12.0]}
            )
        for floor in WARD_FLOORS:
            if ward_i >= wards_total:
                break
            dname, dzh = DEPARTMENTS[dept_i % len(DEPARTMENTS)]
            dept_i += 1
            wid = f"{bid}-{int(floor):02d}"
            station = f"{wid}-NS"
            wards.append(
                {
                    "id": wid,
                    "name": f"{dname} ({bid} F{floor})",
                    "name_zh": f"{dzh}（{t}号楼{floor}层）",
                    "building": bid,
                    "floor": floor,
                    "beds": sizes[ward_i],
                    "station": station,
                }
            )
            locations.append(
                {"id": station, "kind": "nurse_station", "building": bid, "floor": floor, "xy": [ox + 18.0, 6.0]}
            )
            ward_i += 1
        # basement logistics tunnel segment and ground-floor concourse to the next tower
        if t > 1:
            links.append({"from": f"T{t - 1}@B1", "to": f"{bid}@B1", "metres": 90, "kind": "tunnel"})
            links.append({"from": f"T{t - 1}@1", "to": f"{bid}@1", "metres": 95, "kind": "corridor"})
        if t > 1 and t % 2 == 0:
            links.append({"from": f"T{t - 1}@3", "to": f"{bid}@3", "metres": 80, "kind": "bridge"})

    mid_x = (towers - 1) * 45.0
    # Medical-technology building: central pharmacy (B1 + 1) and central laboratory (2)
    mt_floors = ["B1", "1", "2", "3", "4"]
    buildings.append(
        {
            "id": "MT",
            "name": "Medical Technology Building",
            "name_zh": "医技楼",
            "kind": "medical_technology",
            "floors": mt_floors,
            "origin": [mid_x, 140.0],
            "lifts": [_lift("MT-L1", mt_floors), _lift("MT-L2", mt_floors)],
        }
    )
    locations += [
        {
            "id": "MT-01-PHARMACY",
            "kind": "pharmacy",
            "building": "MT",
            "floor": "1",
            "xy": [mid_x + 25, 150.0],
            "name": "Central Pharmacy",
            "name_zh": "中心药房",
        },
        {
            "id": "MT-B1-PHARMACY-DOCK",
            "kind": "pharmacy",
            "building": "MT",
            "floor": "B1",
            "xy": [mid_x + 20, 130.0],
            "name": "Pharmacy robot hatch",
            "name_zh": "药房机器人取药口",
        },
        {
            "id": "MT-02-LAB",
            "kind": "lab",
            "building": "MT",
            "floor": "2",
            "xy": [mid_x + 30, 155.0],
            "name": "Central Laboratory",
            "name_zh": "中心检验科",
        },
        {"id": "MT-B1-DOCK1", "kind": "dock", "building": "MT", "floor": "B1", "xy": [mid_x - 10, 128.0]},
        {"id": "MT-B1-DOCK2", "kind": "dock", "building": "MT", "floor": "B1", "xy": [mid_x - 4, 128.0]},
        {"id": "MT-B1-DOCK3", "kind": "dock", "building": "MT", "floor": "B1", "xy": [mid_x + 2, 128.0]},
        {"id": "MT-B1-DOCK4", "kind": "dock", "building": "MT", "floor": "B1", "xy": [mid_x + 8, 128.0]},
    ]
    mid_tower = f"T{max(1, (towers + 1) // 2)}"
    links.append({"from": f"{mid_tower}@B1", "to": "MT@B1", "metres": 150, "kind": "tunnel"})
    links.append({"from": f"{mid_tower}@1", "to": "MT@1", "metres": 150, "kind": "corridor"})
    if towers > 2:
        links.append({"from": f"T{towers}@B1", "to": "MT@B1", "metres": 160 + 20 * towers, "kind": "tunnel"})
        links.append({"from": "T1@B1", "to": "MT@B1", "metres": 160 + 20 * towers, "kind": "tunnel"})

    # Emergency department (ground floor, own lift to the basement)
    ed_floors = ["B1", "1", "2"]
    buildings.append(
        {
            "id": "ED",
            "name": "Emergency Department",
            "name_zh": "急诊部",
            "kind": "emergency",
            "floors": ed_floors,
            "origin": [-120.0, 60.0],
            "lifts": [_lift("ED-L1", ed_floors)],
        }
    )
    locations += [
        {
            "id": "ED-01-NS",
            "kind": "ed",
            "building": "ED",
            "floor": "1",
            "xy": [-100.0, 70.0],
            "name": "ED nurse station",
            "name_zh": "急诊护士站",
        },
        {
            "id": "ED-01-RESUS",
            "kind": "ed",
            "building": "ED",
            "floor": "1",
            "xy": [-95.0, 80.0],
            "name": "Resuscitation",
            "name_zh": "抢救室",
        },
        {
            "id": "ED-01-ACUTE",
            "kind": "ed",
            "building": "ED",
            "floor": "1",
            "xy": [-110.0, 85.0],
            "name": "ED acute care",
            "name_zh": "急诊重症区",
        },
        {
            "id": "ED-01-FAST",
            "kind": "ed",
            "building": "ED",
            "floor": "1",
            "xy": [-130.0, 80.0],
            "name": "ED fast track",
            "name_zh": "急诊快速通道",
        },
    ]
    for k in (1, 2, 3):
        locations.append(
            {
                "id": f"ED-01-TRIAGE{k}",
                "kind": "ed_triage",
                "building": "ED",
                "floor": "1",
                "xy": [-125.0 + 6 * k, 60.0],
                "name": f"Triage room {k}",
                "name_zh": f"分诊室{k}",
            }
        )
    for k in range(1, 5):
        locations.append(
            {
                "id": f"ED-01-K{k}",
                "kind": "kiosk",
                "building": "ED",
                "floor": "1",
                "xy": [-140.0 + 4 * k, 55.0],
                "name": f"ED kiosk {k}",
                "name_zh": f"急诊自助机{k}",
            }
        )
    links.append({"from": "ED@B1", "to": "T1@B1", "metres": 130, "kind": "tunnel"})
    links.append({"from": "ED@1", "to": "T1@1", "metres": 125, "kind": "corridor"})

    # Outpatient building: kiosks on floors 1-3, clinics on 2-6
    op_floors = ["B1", "1", "2", "3", "4", "5", "6"]
    buildings.append(
        {
            "id": "OP",
            "name": "Outpatient Building",
            "name_zh": "门诊楼",
            "kind": "outpatient",
            "floors": op_floors,
            "origin": [mid_x, -160.0],
            "lifts": [_lift("OP-L1", op_floors), _lift("OP-L2", op_floors)],
        }
    )
    kiosk = 0
    for floor, count in (("1", 12), ("2", 6), ("3", 6)):
        for _ in range(count):
            kiosk += 1
            locations.append(
                {
                    "id": f"OP-{int(floor):02d}-K{kiosk:02d}",
                    "kind": "kiosk",
                    "building": "OP",
                    "floor": floor,
                    "xy": [mid_x - 30 + 5 * (kiosk % 12), -150.0],
                    "name": f"Kiosk {kiosk}",
                    "name_zh": f"自助机{kiosk}",
                }
            )
    for i, (code, en, zh) in enumerate(OUTPATIENT_DEPTS):
        floor = str(2 + i % 5)
        locations.append(
            {
                "id": f"OP-{int(floor):02d}-{code}",
                "kind": "outpatient_dept",
                "building": "OP",
                "floor": floor,
                "xy": [mid_x - 40 + 10 * (i % 8), -175.0],
                "name": en,
                "name_zh": zh,
            }
        )
    locations.append(
        {
            "id": "OP-01-PHARMACY",
            "kind": "pharmacy",
            "building": "OP",
            "floor": "1",
            "xy": [mid_x + 35, -150.0],
            "name": "Outpatient Pharmacy",
            "name_zh": "门诊药房",
        }
    )
    links.append({"from": "OP@B1", "to": f"{mid_tower}@B1", "metres": 170, "kind": "tunnel"})
    links.append({"from": "OP@1", "to": f"{mid_tower}@1", "metres": 165, "kind": "corridor"})

    return {
        "name": name or "Medical City Campus (modelled on a 5,037-bed medical center)",
        "name_zh": "国际医学中心园区（模型）",
        "timezone": "Asia/Shanghai",  # the campus is modelled on a Chinese medical city
        "units": {"distance": "m", "speed": "m/s", "time": "s"},
        "buildings": buildings,
        "locations": locations,
        "wards": wards,
        "links": links,
    }
