"""Persistence of the intake: migration 0004, one transaction per batch, idempotency by identifier."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hospital_ops.fhir import intake_of, parse_resource
from hospital_ops.fhir.tables import MappingTables
from hospital_ops.store import DuplicateError, InvalidInputError, Store, head_revision, make_engine
from hospital_ops.store import orders as so
from hospital_ops.store.engine import writer
from hospital_ops.store.migrate import alembic_config
from hospital_ops.store.models import Base
from tests.fhir.conftest import NOW_S, ORDER, lab_order, med_order


def _item(resource: dict, tables: MappingTables) -> so.Intake:  # type: ignore[type-arg]
    return intake_of(parse_resource(resource), tables, now_s=NOW_S, requester="his:test")


def test_migration_0004_matches_the_models_and_can_be_undone(tmp_path: Path) -> None:
    """At head the schema equals the models; downgrading to 0003 drops the FHIR tables, upgrading restores them."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    Store.open(url).close()
    assert int(head_revision()) >= 4  # 0004 added the FHIR tables; later migrations build on it
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
            assert {"fhir_orders", "fhir_appointments"} <= set(sa.inspect(conn).get_table_names())
        for target in ("0003", "head"):
            with writer(engine).begin() as conn:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                (command.downgrade if target == "0003" else command.upgrade)(cfg, target)
            with engine.connect() as conn:
                present = "fhir_orders" in sa.inspect(conn).get_table_names()
                assert present is (target == "head")
    finally:
        engine.dispose()


def test_batch_is_one_transaction(store: Store, tables: MappingTables) -> None:
    """If one item of a batch fails in the store, none of the batch is kept."""
    so.apply_intake(store, [_item(lab_order("X-1"), tables)], actor="his:test")
    batch = [_item(lab_order("L-1"), tables), _item(med_order("X-1"), tables)]  # X-1 is already a ServiceRequest
    with pytest.raises(InvalidInputError, match="already identifies ServiceRequest"):
        so.apply_intake(store, batch, actor="his:test")
    assert so.find_order(store, ORDER, "L-1") is None and len(store.list_tasks()) == 1


def test_same_identifier_creates_one_delivery_and_audits(store: Store, tables: MappingTables) -> None:
    """Applying the same order twice creates one delivery; the intake is audited under the HIS's name."""
    first = so.apply_intake(store, [_item(lab_order("L-1"), tables)], actor="his:test")[0]
    second = so.apply_intake(store, [_item(lab_order("L-1"), tables)], actor="his:test")[0]
    assert first.outcome == "created" and second.outcome == "exists" and first.task_id == second.task_id
    assert len(store.list_tasks()) == 1
    assert [e.action for e in store.audit_log(actor="his:test")] == ["task.add", "fhir.order"]
    assert so.order_of_task(store, first.task_id or "") == so.get_order(store, first.id)  # type: ignore[arg-type]


def test_retry_after_a_concurrent_duplicate(
    store: Store, tables: MappingTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unique-key race (another request created the order meanwhile) is retried and finds the order."""
    item = _item(lab_order("L-1"), tables)
    real = so.apply_intake
    calls = []

    def racing(s: Store, items: list[so.Intake], *, actor: str) -> list[so.IntakeResult]:
        calls.append(1)
        if len(calls) == 1:
            real(s, items, actor="his:other")  # the other request wins
            raise DuplicateError("fhir_orders: already exists")
        return real(s, items, actor=actor)

    monkeypatch.setattr(so, "apply_intake", racing)
    result = so.apply_intake_retrying(store, [item], actor="his:test")
    assert result[0].outcome == "exists" and len(store.list_tasks()) == 1


@pytest.mark.postgres
def test_intake_on_postgresql(postgres_url: str, tables: MappingTables) -> None:
    """On PostgreSQL too: a batch creates its deliveries once, a revocation cancels, a check-in arrives."""
    from tests.fhir.conftest import appointment, patient

    with Store.open(postgres_url, auto_upgrade=True) as pg:
        items = [
            _item(patient("M-1"), tables),
            _item(lab_order("L-1", mrn="M-1"), tables),
            _item(appointment("A-1", mrn="M-1"), tables),
        ]
        assert [r.outcome for r in so.apply_intake(pg, items, actor="his:test")] == ["created"] * 3
        assert [r.outcome for r in so.apply_intake(pg, items, actor="his:test")] == ["exists"] * 3
        revoked = so.apply_intake(pg, [_item(lab_order("L-1", mrn="M-1", status="revoked"), tables)], actor="his:test")
        assert revoked[0].outcome == "cancelled"
        arrival = so.arrive_appointment(pg, actor="kiosk", patient_id="P-M-1", now_s=NOW_S)
        assert arrival.department == "OP-03-CARD" and arrival.appointment.status == "arrived"
        assert so.list_orders(pg, patient_value="M-1")[0].status == "revoked"
