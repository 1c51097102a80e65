"""Start the embedded Synapse, censoring redacted events every few seconds.

Synapse erases a redacted event's content from its database at a censoring pass that
runs every five minutes. The embedded homeservers (demo and tests) set
``redaction_retention_period: 0``; running the pass every ``DSX_CENSOR_SECONDS`` seconds
as well lets a test read the erasure from Synapse's own database without waiting
minutes. Production homeservers are started as their operators start them, not by this.

    python -m partner_bots.homeserver.launch --config-path homeserver.yaml
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SECONDS = 2.0


def _censor_often(seconds: float) -> None:
    from synapse.storage.databases.main import censor_events
    from synapse.util.duration import Duration

    store = censor_events.CensorEventsStore
    original = store.__init__

    def init(self: Any, database: Any, db_conn: Any, hs: Any) -> None:
        original(self, database, db_conn, hs)
        if (
            hs.config.worker.run_background_tasks
            and hs.config.server.redaction_retention_period is not None
        ):
            hs.get_clock().looping_call(
                self._censor_redactions, Duration(milliseconds=int(seconds * 1000))
            )

    store.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    seconds = float(os.environ.get("DSX_CENSOR_SECONDS", DEFAULT_SECONDS))
    if seconds > 0:
        _censor_often(seconds)
    from synapse.app.homeserver import main as synapse_main

    synapse_main()


if __name__ == "__main__":
    main()
