"""The kiosk's web layer (the only part of ``triage_kiosk`` that imports Flask).

``register(app, settings)`` is called by ``ops_dashboard.create_app``: it binds a
:class:`~triage_kiosk.web.service.KioskContext` (triage engine, visits, the identity service built
lazily from ``biometric_key``, the ID-number hasher from ``id_hash_key``, the QR codec from
``qr_token_key``) and registers the screens (``/kiosk``) and the REST endpoints for check-ins and
triage results (``/api/v1/checkins``, ``/api/v1/triage``). A missing secret disables only the
feature that needs it (the screen says so); nothing falls back to a default key.

Setting up a kiosk: ``hospital-ops users token KIOSK-ED-1 kiosk`` prints a device token once;
open ``/kiosk/activate`` on the kiosk's browser and enter it (the session then belongs to that
kiosk). Face check-in needs ``HOSPITAL_OPS_BIOMETRIC_KEY``, ID-number check-in
``HOSPITAL_OPS_ID_HASH_KEY``, QR check-in ``HOSPITAL_OPS_QR_TOKEN_KEY``.

A patient with a booked appointment for today (from the FHIR intake) is checked in for it when
identified, and sees the appointment screen (department, directions, "pay later" status) instead
of the triage questions, unless they report feeling worse or a red-flag symptom. "Today" is the
hospital's local day: ``HOSPITAL_OPS_TIMEZONE``, else the campus file's ``timezone``, else UTC.

Visits in progress are kept in the product store, sealed with ``HOSPITAL_OPS_VISIT_KEY``
(:mod:`triage_kiosk.web.visits`), so any web worker continues any visit; without that key (or
without a store) they are kept in this process's memory only, and the log says so.
"""

from __future__ import annotations

import logging
from typing import Any

from hospital_ops.config import Settings, hospital_zone
from triage_kiosk.web.service import KioskContext, Visits, VisitStore

log = logging.getLogger(__name__)


def build_visits(settings: Settings, store: Any, clock: Any) -> Visits:
    """The shared visit store when there is a store and a visit key; this process's memory otherwise."""
    from hospital_ops.config import MissingSecretError
    from triage_kiosk.identity.errors import KeyConfigError
    from triage_kiosk.web.visits import VISIT_KEY_VAR, SqlVisitStore, visit_key

    if store is None:
        return VisitStore(clock=clock)
    if settings.visit_key is None:
        log.warning(
            "kiosk visits are kept in this web process only (%s is not set): "
            "run one worker, or set the key to share visits through the database",
            VISIT_KEY_VAR,
        )
        return VisitStore(clock=clock)
    try:
        key = visit_key(settings)
    except (MissingSecretError, KeyConfigError) as exc:
        log.error("kiosk visits are kept in this web process only: %s", exc)
        return VisitStore(clock=clock)
    return SqlVisitStore(store, key, clock=clock)


def build_context(settings: Settings, store: Any, clock: Any = None, campus: Any = None) -> KioskContext:
    import time

    from triage_kiosk.identity.fallback import QrTokenCodec, ResidentIdHasher
    from triage_kiosk.identity.keys import biometric_key, id_hash_key
    from triage_kiosk.triage.engine import TriageEngine

    clock = clock or time.time
    if campus is None:
        from hospital_ops.campus import default_campus

        campus = default_campus()
    factory = None
    if settings.biometric_key is not None:
        try:
            key = biometric_key(settings)
        except Exception as exc:  # a malformed key disables face check-in; the message says why
            log.error("face check-in disabled: %s", exc)
        else:

            def factory() -> Any:
                from triage_kiosk.identity.crypto import TemplateCipher
                from triage_kiosk.identity.service import IdentityService
                from triage_kiosk.identity.sqlstore import SqlTemplateStore, StoreAuditLog

                return IdentityService(TemplateCipher(key), SqlTemplateStore(store), StoreAuditLog(store))

    hasher = None
    if settings.id_hash_key is not None:
        try:
            hasher = ResidentIdHasher(id_hash_key(settings))
        except Exception as exc:
            log.error("ID-number check-in disabled: %s", exc)
    codec = None
    if settings.qr_token_key is not None:
        try:
            codec = QrTokenCodec(settings.qr_token_key.get_secret_value().encode("utf-8"))
        except ValueError as exc:
            log.error("QR check-in disabled: %s", exc)
    return KioskContext(
        engine=TriageEngine(),
        visits=build_visits(settings, store, clock),
        identity_factory=factory,
        id_hasher=hasher,
        qr_codec=codec,
        clock=clock,
        campus=campus,
        tz=hospital_zone(settings, campus.timezone),
    )


def register(app: Any, settings: Settings) -> None:
    """Bind the kiosk to ``app`` (called by ``create_app`` right after the dashboard pages)."""
    from ops_dashboard.extensions import csrf
    from triage_kiosk.web import api, views

    ops = app.extensions["hospital_ops"]
    ctx = build_context(settings, ops.store, ops.clock, ops.campus)
    tables = app.extensions.get("hospital_ops_fhir")  # the FHIR intake's tables: appointments name patients by MRN
    if tables is not None:
        ctx.mrn_systems = (tables.mrn_system,)
    app.extensions["triage_kiosk"] = ctx
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer-token calls; session calls are CSRF-checked by the app's /api/ hook


__all__ = ["KioskContext", "build_context", "register"]
