"""Room addresses become room ids in one chain (docs/architecture.md, "The seam"):
``direct:<user>`` is that person's direct room once one is wired, else the row waits."""

from __future__ import annotations

from coordinator import notifications as n
from partner_bots.delivery import MatrixIdsOnly
from partner_bots.sending import SendError
from partner_bots.workflow.rooms import DirectAddresses


class Direct:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def room_for(self, staff: str) -> str:
        self.asked.append(staff)
        if staff == "@closed:hs":
            raise SendError("M_FORBIDDEN", 5.0)
        return f"!dm-{staff[1:3]}:hs"


async def test_direct_addresses_resolve_through_the_direct_rooms():
    direct = Direct()
    rooms = DirectAddresses(MatrixIdsOnly(), lambda: direct)
    assert await rooms.resolve(n.DirectRoom("@ann:hs").address) == "!dm-an:hs"
    assert await rooms.resolve(n.DirectRoom("@closed:hs").address) is None  # waits
    assert await rooms.resolve("!other:hs") == "!other:hs"  # not a direct address
    assert await rooms.resolve(n.EngagementRoom("e-1").address) is None
    assert direct.asked == ["@ann:hs", "@closed:hs"]


async def test_without_direct_rooms_a_direct_row_waits():
    rooms = DirectAddresses(MatrixIdsOnly(), lambda: None)
    assert await rooms.resolve(n.DirectRoom("@ann:hs").address) is None
