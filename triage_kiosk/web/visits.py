"""Kiosk visits shared by every web worker: sealed in the product store, never camera frames.

:class:`SqlVisitStore` keeps each visit in the ``kiosk_visits`` table
(``hospital_ops.store.kiosk_visits``) as AES-256-GCM nonce + ciphertext (key
``HOSPITAL_OPS_VISIT_KEY``, 32 random bytes in base64; no default anywhere). The associated data
binds a ciphertext to its visit and kiosk ids, so a row copied onto another visit fails to open.
A request loads the visit (marking it used), the screens change it, and the view layer saves it
before the response leaves (:meth:`SqlVisitStore.save`; only when something changed). Two requests
for one visit at once: the later save wins (one patient at one screen; the triage result and the
check-in are in the store before either answers).

Camera frames are never stored: the live frames kept for face enrolment between "not recognised"
and the registration form stay in the memory of the worker that took them (forgotten with the
visit). A registration that reaches another worker goes on without face enrolment.

A visit left alone longer than the time-to-live is gone for every worker (deleted on the next
start of any visit, ignored meanwhile). State that cannot be opened (another key, another version
of this code) is treated as an ended visit: the patient presses Start again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hospital_ops.config import Settings, require_secret
from hospital_ops.store import InvalidInputError, Store
from hospital_ops.store import kiosk_visits as rows
from hospital_ops.store.convert import build, plain
from triage_kiosk.identity.keys import AES_KEY_BYTES, decode_aes_key
from triage_kiosk.web.service import VISIT_TTL_S, Visit

log = logging.getLogger(__name__)

VISIT_KEY_VAR: Final = "HOSPITAL_OPS_VISIT_KEY"
#: Format of the sealed state (part of the associated data: another format fails to open).
STATE_VERSION: Final = 1
_AAD_PREFIX: Final = b"hospital-ops/kiosk-visit/v1\x00"
#: Visit fields never written to the store.
NOT_STORED: Final = frozenset({"enrol_frames", "_digest"})
#: Visit fields that change on every request (not a reason to write the state again).
_VOLATILE: Final = frozenset({"touched_s"})


class VisitStateError(Exception):
    """Sealed visit state that cannot be opened (wrong key, altered, another visit's, another format)."""


def visit_key(settings: Settings) -> bytes:
    """The visit-state key from the settings (``MissingSecretError`` / ``KeyConfigError`` saying why)."""
    return decode_aes_key(require_secret("visit_key", settings), var=VISIT_KEY_VAR)


def visit_state(visit: Visit) -> dict[str, Any]:
    """The visit as JSON-ready data, without camera frames."""
    return {f.name: plain(getattr(visit, f.name)) for f in dataclasses.fields(Visit) if f.name not in NOT_STORED}


def visit_from_state(data: dict[str, Any]) -> Visit:
    """A :class:`Visit` from :func:`visit_state` data (``InvalidInputError`` naming a bad field)."""
    data = dict(data)
    forms = data.pop("forms", {})
    if not isinstance(forms, dict) or not all(isinstance(v, dict) for v in forms.values()):
        raise InvalidInputError("visit: forms: expected a mapping of form values")
    unknown = sorted(set(data) & NOT_STORED)
    if unknown:
        raise InvalidInputError(f"visit: {', '.join(unknown)}: never stored")
    visit = build(Visit, data, where="visit: ")
    visit.forms = forms
    return visit


def _digest(state: dict[str, Any]) -> str:
    stable = {k: v for k, v in state.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class VisitCipher:
    """Seals and opens visit state with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != AES_KEY_BYTES:
            raise ValueError(f"key: must be {AES_KEY_BYTES} bytes (AES-256), got {len(key)} bytes")
        self._aead = AESGCM(bytes(key))
        self.key_id = hmac.new(bytes(key), b"hospital-ops kiosk visit key id", hashlib.sha256).hexdigest()[:16]

    @staticmethod
    def _aad(visit_id: str, kiosk_id: str) -> bytes:
        return _AAD_PREFIX + f"{STATE_VERSION}\x00{visit_id}\x00{kiosk_id}".encode()

    def seal(self, visit_id: str, kiosk_id: str, state: dict[str, Any]) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of the state."""
        nonce = os.urandom(rows.NONCE_BYTES)
        raw = json.dumps(state, sort_keys=True, ensure_ascii=False, allow_nan=False).encode("utf-8")
        return nonce, self._aead.encrypt(nonce, raw, self._aad(visit_id, kiosk_id))

    def open(self, sealed: rows.SealedVisit) -> dict[str, Any]:
        if sealed.key_id != self.key_id:
            raise VisitStateError(
                f"visit {sealed.visit_id}: sealed with key id {sealed.key_id}, but {VISIT_KEY_VAR} has key id "
                f"{self.key_id} (the key was changed)"
            )
        try:
            raw = self._aead.decrypt(sealed.nonce, sealed.ciphertext, self._aad(sealed.visit_id, sealed.kiosk_id))
        except InvalidTag:
            raise VisitStateError(
                f"visit {sealed.visit_id}: state failed authentication (altered, another visit's, or another format)"
            ) from None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise VisitStateError(f"visit {sealed.visit_id}: state is not a mapping")
        return data


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class SqlVisitStore:
    """Visits in the product store, sealed; any worker of the app continues any visit.

    Same interface as :class:`~triage_kiosk.web.service.VisitStore` plus :meth:`save`, which the
    view layer calls after every request that loaded a visit."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        clock: Callable[[], float] = time.time,
        ttl_s: float = VISIT_TTL_S,
    ) -> None:
        self.store = store
        self.cipher = VisitCipher(key)
        self.clock = clock
        self.ttl_s = ttl_s
        #: Enrolment frames of this worker's visits (never stored): visit id -> (last used, frames).
        self._frames: dict[str, tuple[float, list[np.ndarray]]] = {}
        self._lock = threading.Lock()

    # -- the VisitStore interface --------------------------------------------------------------

    def new(self, kiosk_id: str) -> Visit:
        now = self.clock()
        self._expire(now)
        v = Visit(id=secrets.token_urlsafe(12), kiosk_id=kiosk_id, started_s=now, touched_s=now)
        state = visit_state(v)
        nonce, ct = self.cipher.seal(v.id, kiosk_id, state)
        rows.add_visit(
            self.store,
            rows.SealedVisit(v.id, kiosk_id, self.cipher.key_id, nonce, ct, _ms(now), _ms(now)),
        )
        v._digest = _digest(state)
        return v

    def get(self, visit_id: str | None, kiosk_id: str) -> Visit | None:
        if not visit_id:
            return None
        now = self.clock()
        sealed = rows.touch_visit(self.store, visit_id, kiosk_id, now_ms=_ms(now), ttl_ms=_ms(self.ttl_s))
        if sealed is None:
            self._drop_frames(visit_id)
            return None
        try:
            state = self.cipher.open(sealed)
            visit = visit_from_state(state)
            if visit.id != visit_id or visit.kiosk_id != kiosk_id:
                raise VisitStateError(f"visit {visit_id}: state names another visit or kiosk")
        except (VisitStateError, InvalidInputError, ValueError) as exc:
            log.warning("kiosk visit %s at %s cannot be continued: %s", visit_id, kiosk_id, exc)
            self.end(visit_id)
            return None
        visit._digest = _digest(state)
        visit.touched_s = now
        with self._lock:
            kept = self._frames.get(visit_id)
            if kept is not None:
                self._frames[visit_id] = (now, kept[1])
                visit.enrol_frames = kept[1]
        return visit

    def save(self, visit: Visit) -> None:
        """Write the visit's state back if it changed (a finished or expired visit stays gone);
        its enrolment frames stay in this worker's memory."""
        now = self.clock()
        with self._lock:
            if visit.enrol_frames:
                self._frames[visit.id] = (now, visit.enrol_frames)
            else:
                self._frames.pop(visit.id, None)
        state = visit_state(visit)
        digest = _digest(state)
        if digest == visit._digest:
            return
        nonce, ct = self.cipher.seal(visit.id, visit.kiosk_id, state)
        sealed = rows.SealedVisit(
            visit.id, visit.kiosk_id, self.cipher.key_id, nonce, ct, _ms(visit.started_s), _ms(now)
        )
        if rows.update_visit(self.store, sealed):
            visit._digest = digest
        else:
            log.info("kiosk visit %s ended or expired before its last change was saved", visit.id)
            self._drop_frames(visit.id)

    def end(self, visit_id: str | None) -> None:
        if not visit_id:
            return
        rows.delete_visit(self.store, visit_id)
        self._drop_frames(visit_id)

    def __len__(self) -> int:
        return rows.count_visits(self.store, since_ms=_ms(self.clock() - self.ttl_s))

    # -- plumbing ------------------------------------------------------------------------------

    def _drop_frames(self, visit_id: str) -> None:
        with self._lock:
            kept = self._frames.pop(visit_id, None)
        if kept is not None:
            for f in kept[1]:
                f.fill(0)
            kept[1].clear()

    def _expire(self, now: float) -> None:
        gone = rows.expire_visits(self.store, before_ms=_ms(now - self.ttl_s))
        with self._lock:
            stale = [vid for vid, (used, _) in self._frames.items() if now - used > self.ttl_s]
        for vid in [*gone, *stale]:
            self._drop_frames(vid)
