"""Who may do what: staff sessions for pages, bearer tokens for devices and scripts, one role matrix.

Staff sign in with a password (argon2 in the store); the session cookie is signed with the
secret key (no default: the app refuses to start without one). Devices (kiosks, the ROS bridge,
the hospital information system) and scripts send ``Authorization: Bearer <token>``; the token's
kind is its role. Every endpoint declares its roles with :func:`roles_required`, and
:data:`ROLE_MATRIX` is the single table the tests check endpoint by endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for

from ops_dashboard.extensions import limiter
from ops_dashboard.i18n import t

F = TypeVar("F", bound=Callable[..., Any])

STAFF_ROLES = ("ward_staff", "pharmacist", "laboratory", "operations_manager", "admin")
DEVICE_ROLES = ("kiosk", "bridge", "system", "his")  # his: the HIS on /fhir (issue 9)
ALL_ROLES = STAFF_ROLES + DEVICE_ROLES

#: endpoint group -> roles allowed. "system" is the hospital information system and load tests.
ROLE_MATRIX: dict[str, tuple[str, ...]] = {
    "tasks.create": ("ward_staff", "pharmacist", "laboratory", "admin", "system"),
    "tasks.read": ("ward_staff", "pharmacist", "laboratory", "operations_manager", "admin", "system", "bridge"),
    "tasks.cancel": ("ward_staff", "pharmacist", "laboratory", "admin", "system"),
    "tasks.ready": ("pharmacist", "laboratory", "admin"),
    "custody.handover": ("ward_staff", "pharmacist", "laboratory", "admin"),
    "robots.read": ("operations_manager", "admin", "pharmacist", "laboratory", "ward_staff", "bridge"),
    "robots.report": ("bridge", "admin"),
    "alerts.read": ("operations_manager", "admin", "ward_staff", "pharmacist", "laboratory"),
    "alerts.raise": ("bridge", "kiosk", "admin", "system"),
    "alerts.ack": ("operations_manager", "admin", "ward_staff", "pharmacist", "laboratory"),
    "kpis.read": ("operations_manager", "admin"),
    "checkins.create": ("kiosk", "admin"),
    "checkins.read": ("operations_manager", "admin"),
    "triage.create": ("kiosk", "admin"),
    "triage.read": ("operations_manager", "admin"),
    "campus.read": ALL_ROLES,
    "fhir.write": ("his", "admin"),
    "fhir.read": ("his", "operations_manager", "admin"),
    "fhir.arrive": ("kiosk", "his", "admin"),
    "fhir.metadata": ALL_ROLES,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a staff user (session) or a device (token)."""

    username: str
    role: str
    device: bool = False


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    principal: Principal | None = None
    header = request.headers.get("Authorization", "")
    store = current_app.extensions["hospital_ops"].store
    if header.startswith("Bearer "):
        token = store.verify_device_token(header[7:].strip())
        if token is not None and token.kind in ALL_ROLES:
            principal = Principal(token.device_id, token.kind, device=True)
    elif session.get("user"):
        principal = Principal(session["user"], session.get("role", ""), device=False)
    g.principal = principal
    return principal


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def api_error(status: int, message: str, field: str | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"error": {"status": status, "message": message}}
    if field:
        body["error"]["field"] = field
    body["error"].update(extra)
    return jsonify(body), status


def roles_required(group: str) -> Callable[[F], F]:
    """Allow the roles of ``ROLE_MATRIX[group]``; 401 when anonymous, 403 when the role may not."""
    allowed = ROLE_MATRIX[group]

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = current_principal()
            if who is None:
                if _wants_json():
                    return api_error(401, "sign in or send a bearer token")
                return redirect(url_for("auth.login", next=request.full_path))
            if who.role not in allowed:
                if _wants_json():
                    return api_error(403, f"role {who.role} may not do this ({group})")
                return render_template("forbidden.html", group=group), 403
            return fn(*args, **kwargs)

        wrapper.roles = allowed  # type: ignore[attr-defined]
        wrapper.role_group = group  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    return target


def home_for(role: str) -> str:
    return {
        "ward_staff": "pages.dispatch",
        "pharmacist": "pages.handover",
        "laboratory": "pages.handover",
    }.get(role, "pages.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login() -> Any:
    nxt = _safe_next(request.args.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=nxt, error=None, username="")
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    store = current_app.extensions["hospital_ops"].store
    user = store.authenticate(username, password) if username and password else None
    if user is None:
        store.audit(username or "?", "login.failed", f"user:{username}", {"ip": request.remote_addr or ""})
        return render_template("login.html", next=nxt, error=t("login.failed"), username=username), 401
    session.clear()
    session["user"] = user.username
    session["role"] = user.role
    session.permanent = True
    store.audit(user.username, "login", f"user:{user.username}", {"ip": request.remote_addr or ""})
    return redirect(nxt or url_for(home_for(user.role)))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    who = session.get("user")
    session.clear()
    if who:
        current_app.extensions["hospital_ops"].store.audit(who, "logout", f"user:{who}")
    flash("signed out")
    return redirect(url_for("auth.login"))
