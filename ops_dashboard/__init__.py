"""The web app: operations dashboard, ward dispatch, pharmacy/lab hand-over, REST API, live channel.

``create_app(settings)`` builds a fresh app (nothing is built at import). The secret key comes
from the settings; the app refuses to start without one (``hospital-ops serve`` creates one in
the data directory on first start).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, g, jsonify, request, session
from flask_smorest import Api
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from hospital_ops import __version__
from hospital_ops.campus import Campus, default_campus, load_campus
from hospital_ops.config import Settings, hospital_zone, require_secret
from hospital_ops.store import Store
from ops_dashboard import live as _live  # noqa: F401  registers the Socket.IO handlers before any init_app
from ops_dashboard.extensions import csrf, limiter, socketio
from ops_dashboard.i18n import pick_language, t
from ops_dashboard.services import OpsContext


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    campus: Campus | None = None,
    clock: Callable[[], float] = time.time,
    watch: bool = True,
    testing: bool = False,
) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=require_secret("secret_key", settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        TESTING=testing,
        API_TITLE="hospital-ops",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_ENABLED=True,
    )
    the_campus = campus or (load_campus(settings.campus_file) if settings.campus_file else default_campus())
    the_store = store or Store.open(settings.database_url_or_default())
    app.extensions["hospital_ops"] = OpsContext(
        store=the_store, campus=the_campus, clock=clock, tz=hospital_zone(settings, the_campus.timezone)
    )

    csrf.init_app(app)
    limiter.init_app(app)
    api = Api(app)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=settings.redis_url,
        cors_allowed_origins=[],
        logger=False,
        engineio_logger=False,
    )

    from ops_dashboard import auth, live, pages, rest

    api.register_blueprint(rest.blp)
    # the JSON API authenticates per request (session or bearer token) and is called by scripts
    # and devices: CSRF applies to the cookie-session forms, and to API calls made with a
    # session cookie (the pages send the token in X-CSRFToken); bearer-token calls carry no cookie.
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    from ops_dashboard import fhir as fhir_api  # HL7 FHIR intake for the HIS at /fhir (issue 9)

    app.register_blueprint(fhir_api.bp)
    csrf.exempt(fhir_api.bp)  # bearer tokens only for writes (ops_dashboard.fhir.fhir_roles)
    from triage_kiosk.web import register as register_kiosk  # kiosk screens + check-in/triage API (issue 8)

    register_kiosk(app, settings)
    from triage_kiosk.web import api as kiosk_api

    kiosk_api.document(api.spec, app)

    @app.before_request
    def _csrf_for_api() -> None:
        g.lang = pick_language()
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if request.headers.get("Authorization", "").startswith("Bearer "):
                return
            if session.get("user") and app.config.get("WTF_CSRF_ENABLED", True):
                csrf.protect()

    csrf.exempt(rest.blp)

    @app.after_request
    def _remember_lang(resp: Any) -> Any:
        if request.args.get("lang") in ("en", "zh"):
            resp.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.context_processor
    def _inject() -> dict[str, Any]:
        from ops_dashboard.auth import current_principal

        return {"t": t, "current_user": current_principal(), "csrf_token": generate_csrf}

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(
                {"error": {"status": 400, "message": f"csrf_token: {exc.description}", "field": "csrf_token"}}
            ), 400
        return exc.description, 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            if exc.code == 429 and request.endpoint == "auth.login":
                from flask import render_template

                return render_template("login.html", next=None, error=t("login.rate"), username=""), 429
            return exc
        body: dict[str, Any] = {"status": exc.code, "message": exc.description or exc.name}
        data = getattr(exc, "data", None)
        if isinstance(data, dict) and "messages" in data:
            # marshmallow / webargs: {"json": {"field": ["reason"]}} -> name the first field and reason
            fields: dict[str, Any] = {}
            for _loc, errs in data["messages"].items():
                fields.update(_flatten(errs))
            body["fields"] = fields
            if fields:
                first = next(iter(fields))
                body["field"] = first
                body["message"] = f"{first}: {fields[first]}"
        return jsonify({"error": body}), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify({"error": {"status": 500, "message": "internal error; it has been logged"}}), 500
        return "internal error; it has been logged", 500

    if watch and not testing:
        watcher = live.StoreWatcher(app)
        app.extensions["hospital_ops_watcher"] = watcher
        socketio.start_background_task(watcher.run)
    return app


def _flatten(errs: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(errs, dict):
        for k, v in errs.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(errs, list):
        if all(isinstance(e, str) for e in errs):
            out[prefix or "body"] = "; ".join(errs)
        else:
            for e in errs:
                out.update(_flatten(e, prefix))
    else:
        out[prefix or "body"] = str(errs)
    return out
