"""Filing a request and routing it: one use case, one transaction, for every adapter (a
room command, the dashboard, the CLI, seeding and tests).

A request filed in a room lives in a thread there (``thread``, the command's event); it is
recorded with the request, so delivery places what the core queues about the request in
that thread (docs/architecture.md, "The seam").
"""

from __future__ import annotations

from collections.abc import Iterable

from coordinator.domain import Urgency
from coordinator.store.schema import request_threads
from coordinator.usecases import cases, matching
from coordinator.usecases.acting import Acting
from coordinator.usecases.context import Context
from coordinator.usecases.results import Filed
from coordinator.usecases.unit import Tx


async def file_and_route(
    ctx: Context,
    tx: Tx,
    by: Acting,
    organization: str,
    skills: Iterable[str],
    languages: Iterable[str] = (),
    region: str | None = None,
    urgency: Urgency = Urgency.NORMAL,
    note: str | None = None,
    room: str | None = None,
    thread: str | None = None,
) -> Filed:
    """File for one of ``by``'s partner's own organizations (``cases.file_request``),
    then route it unless it is to be referred (outside the U.S.)."""
    filed = await cases.file_request(
        ctx, tx, by, organization, skills, languages, region, urgency, note, room
    )
    if room is not None and thread is not None:
        await tx.conn.execute(
            request_threads.insert().values(request=filed.request, room=room, root=thread)
        )
    if filed.referral_to is not None or filed.state != "open":
        return Filed(filed.request, filed.state, filed.referral_to)
    routed = await matching.route(ctx, tx, filed.request)
    return Filed(
        filed.request,
        routed.state,
        None,
        routed.proposal,
        routed.provider,
        routed.path,
        routed.approvals_needed,
        routed.created,
    )
