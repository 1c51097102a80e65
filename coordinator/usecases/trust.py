"""The in-memory trust graph, mirrored from the ``members`` and ``vouches`` tables.

The database is the truth. The graph is rebuilt from it at start, changed after each
commit that changes trust, and rebuilt when another process bumped the trust version
(so several coordinator processes on one PostgreSQL agree).
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

import trust_graph as tg
from coordinator.config import PolicyConfig
from coordinator.domain import MemberKind, MembershipStatus, VouchKind
from coordinator.store.clock import aware
from coordinator.store.locks import AUDIT_LOCK, advisory_xact_lock
from coordinator.store.schema import members, meta_kv, partners, vouches

TRUST_VERSION = "trust_version"


def to_policy(policy: PolicyConfig) -> tg.Policy:
    return tg.Policy(
        capacities=tuple(policy.capacities),
        max_depth=policy.max_depth,
        provider_min_references=policy.provider_min_references,
        organization_min_references=policy.organization_min_references,
        max_paths=policy.max_paths,
        expected_members=policy.expected_members,
        fakes_per_member=policy.fakes_per_member,
        colluders=policy.colluders,
    )


def tg_kind(kind: MemberKind) -> tg.MemberKind:
    return tg.MemberKind[kind.name]


def tg_status(status: MembershipStatus) -> tg.MemberStatus:
    return tg.MemberStatus[status.name]


def tg_edge(kind: VouchKind) -> tg.EdgeKind:
    return tg.EdgeKind[kind.name]


async def read_version(conn: AsyncConnection) -> int:
    value = (
        await conn.execute(sa.select(meta_kv.c.value).where(meta_kv.c.key == TRUST_VERSION))
    ).scalar_one_or_none()
    return int(value) if value is not None else 0


async def bump_version(conn: AsyncConnection) -> int:
    # The audit lock is taken by every committing use case anyway; taking it here
    # first makes the read-increment-write of the version atomic across processes.
    await advisory_xact_lock(conn, AUDIT_LOCK)
    current = await read_version(conn)
    if current == 0:
        await conn.execute(meta_kv.insert().values(key=TRUST_VERSION, value="1"))
    else:
        await conn.execute(
            meta_kv.update().where(meta_kv.c.key == TRUST_VERSION).values(value=str(current + 1))
        )
    return current + 1


class TrustIndex:
    """The graph, its seeds (registered partners) and a cache of the accepted set."""

    def __init__(self, policy: PolicyConfig):
        self.policy = to_policy(policy)
        self.graph = tg.TrustGraph()
        self.seeds: tuple[str, ...] = ()
        self.version = -1
        self._accepted: frozenset[str] | None = None
        self.dirty = False  # changed in memory by a transaction not yet committed

    async def load(self, conn: AsyncConnection) -> None:
        graph = tg.TrustGraph()
        for row in await conn.execute(sa.select(members).order_by(members.c.id)):
            graph.add_member(
                row.id, tg_kind(MemberKind(row.kind)), tg_status(MembershipStatus(row.status))
            )
        for row in await conn.execute(sa.select(vouches).order_by(vouches.c.at)):
            graph.vouch(row.author, row.target, kind=tg_edge(VouchKind(row.kind)), at=aware(row.at))
        seeds = await conn.execute(
            sa.select(partners.c.handle)
            .join(members, members.c.id == partners.c.handle)
            .where(members.c.status != MembershipStatus.REMOVED.value)
            .order_by(partners.c.handle)
        )
        self.graph = graph
        self.seeds = tuple(seeds.scalars())
        self.version = await read_version(conn)
        self._accepted = None
        self.dirty = False

    async def refresh(self, conn: AsyncConnection) -> None:
        if await read_version(conn) != self.version:
            await self.load(conn)

    def changed(self) -> None:
        self._accepted = None
        self.dirty = True

    def accepted(self) -> frozenset[str]:
        if self._accepted is None:
            self._accepted = frozenset(self.graph.accepted(self.policy, self.seeds))
        return self._accepted

    def paths_from(self, sources: Iterable[str]) -> dict[str, list[str]]:
        """Shortest vouching paths from any of ``sources`` (depth-capped), by target."""
        g = self.graph.graph
        present = [s for s in sources if s in g]
        if not present:
            return {}
        _dist, paths = nx.multi_source_dijkstra(
            g, present, cutoff=self.policy.max_depth, weight=lambda _u, _v, _d: 1
        )
        return paths
