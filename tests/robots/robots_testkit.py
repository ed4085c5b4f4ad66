"""Helpers for the robots tests (a uniquely named module: several test rooms have a conftest.py)."""

from __future__ import annotations

from typing import Any

#: Tower A (B1..3, two lifts: A-L1 serves B1..3, A-L2 serves 1..3) and a one-floor pharmacy
#: building B linked to A's ground floor by a 190 m corridor.
TINY_CAMPUS: dict[str, Any] = {
    "name": "tiny",
    "buildings": [
        {
            "id": "A",
            "floors": ["B1", "1", "2", "3"],
            "origin": [0.0, 0.0],
            "lifts": [
                {
                    "id": "A-L1",
                    "floors": ["B1", "1", "2", "3"],
                    "capacity": 1,
                    "seconds_per_floor": 2.0,
                    "door_s": 5,
                    "mean_wait_s": 20,
                },
                {
                    "id": "A-L2",
                    "floors": ["1", "2", "3"],
                    "capacity": 1,
                    "seconds_per_floor": 2.0,
                    "door_s": 5,
                    "mean_wait_s": 30,
                },
            ],
        },
        {"id": "B", "floors": ["1"], "origin": [200.0, 0.0]},
    ],
    "locations": [
        {"id": "PHARM", "kind": "pharmacy", "building": "B", "floor": "1", "xy": [210.0, 0.0]},
        {"id": "W3", "kind": "nurse_station", "building": "A", "floor": "3", "xy": [0.0, 30.0]},
        {"id": "W1", "kind": "nurse_station", "building": "A", "floor": "1", "xy": [0.0, 50.0]},
        {"id": "DOCK", "kind": "dock", "building": "A", "floor": "B1", "xy": [10.0, 0.0]},
    ],
    "wards": [
        {"id": "ward-3", "beds": 30, "station": "W3"},
        {"id": "ward-1", "beds": 20, "station": "W1"},
    ],
    "links": [{"from": "A@1", "to": "B@1", "metres": 190}],
}

PIN = "4321"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float) -> None:
        self.t += dt
