"""The web app (dashboard + kiosk) as a real server for the browser tests.

Run by ``test_kiosk_e2e.py`` as ``python -m tests.kiosk.e2e_server PORT`` with the settings
(data dir, database URL, generated secrets) in the environment, exactly as ``hospital-ops serve``
reads them. The only difference from ``serve``: the liveness challenge is fixed to the one the
fake-camera clip performs (a left head turn), and a few more face attempts are allowed, because
the looping clip may be mid-turn when a burst starts.
"""

from __future__ import annotations

import sys

from hospital_ops.config import Settings
from ops_dashboard import create_app
from ops_dashboard.extensions import socketio
from triage_kiosk.identity import Challenge


def main(port: int) -> None:
    app = create_app(Settings())
    kiosk = app.extensions["triage_kiosk"]
    kiosk.challenges = (Challenge.TURN_LEFT,)
    kiosk.max_face_attempts = 6
    print(f"serving on {port}", flush=True)
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
