"""The twin's live mode can send its demand as FHIR orders through /fhir/ (the real intake)."""

from __future__ import annotations

from flask.testing import FlaskClient

from hospital_ops.domain import Handling, Priority, TaskKind
from hospital_ops.fhir.tables import MappingTables
from hospital_ops.fhir.twin import delivery_as_fhir
from hospital_ops.store import Store
from sim.demand import Request
from sim.live import LiveDriver
from tests.fhir.conftest import NOW_S

REQUESTS = [
    Request(
        0.0,
        TaskKind.SPECIMEN,
        "T3-10-NS",
        "MT-02-LAB",
        Priority.STAT,
        900.0,
        handling=Handling(max_transit_s=1800),
        source="lab",
    ),
    Request(
        60.0,
        TaskKind.MEDICATION,
        "MT-01-PHARMACY",
        "T1-04-NS",
        Priority.URGENT,
        3600.0,
        handling=Handling(controlled=True),
        source="med",
    ),
    Request(
        90.0,
        TaskKind.MEDICATION,
        "MT-01-PHARMACY",
        "T2-05-NS",
        Priority.ROUTINE,
        9000.0,
        handling=Handling(cold_chain=True),
        source="med",
    ),
    Request(
        120.0,
        TaskKind.SPECIMEN,
        "ED-01-NS",
        "MT-02-LAB",
        Priority.STAT,
        900.0,
        handling=Handling(max_transit_s=1800),
        source="ed_lab",
    ),
]


def test_delivery_request_becomes_an_equivalent_order(tables: MappingTables) -> None:
    """A ward request maps to an order with the same handling; requests without a ward end stay on REST."""
    lab = delivery_as_fhir(REQUESTS[0].to_json(NOW_S), "n1", tables=tables)
    assert lab is not None
    sr = lab["entry"][0]["resource"]
    assert sr["resourceType"] == "ServiceRequest" and sr["code"]["coding"][0]["code"] == "24336-0"
    assert sr["locationReference"][0]["reference"] == "Location/T3-10"
    med = delivery_as_fhir(REQUESTS[1].to_json(NOW_S), "n2", tables=tables)
    assert med is not None
    drug = med["entry"][0]["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
    assert tables.drug("http://www.whocc.no/atc", drug).controlled  # type: ignore[union-attr]
    assert delivery_as_fhir(REQUESTS[3].to_json(NOW_S), "n3", tables=tables) is None


def test_live_driver_via_fhir_goes_through_the_real_intake(
    client: FlaskClient, store: Store, his: dict[str, str]
) -> None:
    """`sim live --via fhir`: ward demand arrives as FHIR Bundles and becomes the same deliveries."""
    sent: list[str] = []

    def post(url: str, body: dict[str, object]) -> tuple[int, str]:
        path = url.removeprefix("http://stack.test")
        sent.append(path)
        r = client.post(path, json=body, headers=his)
        return r.status_code, r.get_data(as_text=True)

    driver = LiveDriver(
        "http://stack.test", 1e9, sleep=lambda s: None, clock=lambda: float(NOW_S), post=post, via="fhir"
    )
    posted = list(driver.run(REQUESTS))
    assert sent == ["/fhir/", "/fhir/", "/fhir/", "/api/v1/tasks"]
    assert [p.status for p in posted[:3]] == [200, 200, 200]
    tasks = {(t.task.kind, t.task.pickup, t.task.dropoff): t.task for t in store.list_tasks()}
    assert len(tasks) == 3
    lab = tasks[(TaskKind.SPECIMEN, "T3-10-NS", "MT-02-LAB")]
    assert lab.priority is Priority.STAT and lab.earliest_s == NOW_S and lab.handling.max_transit_s == 1800
    morphine = tasks[(TaskKind.MEDICATION, "MT-01-PHARMACY", "T1-04-NS")]
    assert morphine.handling.controlled and morphine.earliest_s == NOW_S + 60
    cold = tasks[(TaskKind.MEDICATION, "MT-01-PHARMACY", "T2-05-NS")]
    assert cold.handling.cold_chain and cold.priority is Priority.ROUTINE
