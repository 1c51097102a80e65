"""The core's ``Presenter`` for Matrix rooms: what a use case queued, rendered for
partners and placed in the request's thread, inside the use case's transaction.

The core calls it with where the caller was and what the change is about
(``coordinator/usecases/presenting.py``); rendering stays in ``present`` and the
threads in ``posted``. What a command posts in its own room joins that room's thread
of the request; what it posts about the request elsewhere (the other approving
partner's copy of a proposal, the routing partner's engagement notice) joins the
request's thread there.
"""

from __future__ import annotations

from coordinator.usecases.presenting import Shown
from coordinator.usecases.unit import Tx
from partner_bots.workflow import posted, present


class RoomPresenter:
    def __init__(self, staff_room: str):
        self.staff_room = staff_room

    async def mark(self, tx: Tx) -> int:
        return await posted.last_seq(tx.conn)

    async def show(self, tx: Tx, mark: int, shown: Shown) -> None:
        await present.render_new_proposals(tx, mark)
        for proposal_id in shown.edited:
            await present.edit_proposal(tx, proposal_id)
        if shown.room is None:
            # Not from a room (a removal, the dashboard): each new proposal joins its own
            # request's thread where the request has one.
            await posted.thread_new_proposals(tx.conn, mark, frozenset({self.staff_room}))
            return
        room = shown.room
        if shown.opens_thread and shown.request and shown.thread:
            await posted.set_request_thread(tx.conn, shown.request, room, shown.thread)
        root = shown.thread or await self._thread_of(tx, room, shown.answered)
        if root:
            await posted.adopt_into_thread(tx.conn, mark, room, root)
        if shown.request:
            skip = frozenset({room, self.staff_room})
            await posted.adopt_elsewhere(tx.conn, mark, shown.request, skip)

    @staticmethod
    async def _thread_of(tx: Tx, room: str, proposal_id: str | None) -> str | None:
        """The thread a proposal's copy in ``room`` sits in (an answer stays there)."""
        if proposal_id is None:
            return None
        for post in await posted.proposal_posts_of(tx.conn, proposal_id):
            if post.room == room:
                return post.thread_root
        return None
