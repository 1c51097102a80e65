"""The demo trust network: a slice of the real Advogato certifications, imported as providers.

A demo on invented vouches would show nothing about how trust behaves; the Advogato slice
has the shape of a real web of trust (hubs, chains, cycles). Its members are imported as
established, active providers (they vouched on Advogato for years), with vouches from the
demo partners to its first three members, so the flow from the seeds reaches them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from sqlalchemy.ext.asyncio import AsyncEngine

from coordinator import audit
from coordinator.config import Config
from coordinator.domain import MemberKind, MembershipStatus, Tier, VouchKind
from coordinator.store.schema import members, providers, vouches
from coordinator.usecases.trust import bump_version

SLICE = "advogato-slice.txt"
# Skills the imported members offer; none of them is what the scripted request asks, so the
# scenario's match goes to a demo provider who has a Matrix account and can join a room.
IMPORTED_SKILLS = ("training", "threat-modeling")


class Level(enum.Enum):
    MASTER = "master"
    JOURNEYER = "journeyer"


@dataclass(frozen=True)
class Certification:
    voucher: str
    certified: str
    level: Level


@dataclass(frozen=True)
class TrustSlice:
    members: tuple[str, ...]
    certifications: tuple[Certification, ...]


def load_slice() -> TrustSlice:
    text = resources.files("dsx.demo").joinpath("data", SLICE).read_text("utf-8")
    certs: list[Certification] = []
    seen: dict[str, None] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        voucher, certified, level = line.split()
        certs.append(Certification(voucher, certified, Level(level)))
        seen.setdefault(voucher)
        seen.setdefault(certified)
    return TrustSlice(tuple(seen), tuple(certs))


def member_id(name: str, server_name: str) -> str:
    """Advogato names have capitals; Matrix localparts may not."""
    return f"@adv-{name.lower()}:{server_name}"


async def import_slice(
    engine: AsyncEngine,
    data: TrustSlice,
    partners: tuple[str, ...],
    server_name: str,
    audit_key: audit.AuditKey,
) -> int:
    """Insert the slice as active providers with its vouches; returns the vouch count.

    Each partner vouches for one of the slice's first members (the breadth-first roots).
    Written in one transaction that bumps the trust version and appends an audit entry,
    as a use case would.
    """
    now = datetime.now(UTC)
    ids = {name: member_id(name, server_name) for name in data.members}
    rows_vouches = [
        {
            "author": ids[c.voucher],
            "target": ids[c.certified],
            "kind": VouchKind.VOUCH.value,
            "at": now,
        }
        for c in data.certifications
    ]
    roots = data.members[: len(partners)]
    rows_vouches += [
        {"author": p, "target": ids[root], "kind": VouchKind.VOUCH.value, "at": now}
        for p, root in zip(partners, roots, strict=True)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            members.insert(),
            [
                {
                    "id": i,
                    "kind": MemberKind.PROVIDER.value,
                    "status": MembershipStatus.ACTIVE.value,
                    "created_at": now,
                }
                for i in ids.values()
            ],
        )
        await conn.execute(
            providers.insert(),
            [
                {
                    "id": i,
                    "skills": list(IMPORTED_SKILLS),
                    "languages": ["en"],
                    "regions": [],
                    "capacity": 1,
                    "tier": Tier.PRIMARY.value,
                    "organizations": [],
                }
                for i in ids.values()
            ],
        )
        await conn.execute(vouches.insert(), rows_vouches)
        await bump_version(conn)
        record = audit.AuditRecord(
            "demo",
            "demo.network_imported",
            SLICE,
            {"members": len(ids), "vouches": len(rows_vouches)},
        )
        await audit.append(conn, [record], now, audit_key)
    return len(rows_vouches)


@dataclass(frozen=True)
class DemoProvider:
    user_id: str
    skills: tuple[str, ...]
    langs: tuple[str, ...]
    region: str
    voucher: str  # a member id or a partner handle


@dataclass(frozen=True)
class DemoOrganization:
    handle: str
    partner: str
    region: str
    name: str
    contact: str


@dataclass(frozen=True)
class Seeded:
    imported_members: int
    imported_vouches: int
    providers: tuple[str, ...]
    organizations: tuple[str, ...]


async def seed(
    config: Config,
    server_name: str,
    demo_providers: tuple[DemoProvider, ...],
    orgs: tuple[DemoOrganization, ...],
) -> Seeded:
    """Migrate, import the slice, then add the demo's people through the use cases."""
    from coordinator.sealing import load_public_key
    from coordinator.usecases import Coordinator

    sealer = load_public_key(config.sealing.public_key_file)
    coordinator = await Coordinator.open(config, sealer=sealer)  # registers the partners
    try:
        data = load_slice()
        handles = tuple(p.handle for p in config.partners)
        count = await import_slice(
            coordinator.engine, data, handles, server_name, coordinator.audit_key
        )
        async with coordinator.engine.connect() as conn:
            await coordinator.trust.load(conn)
        for p in demo_providers:
            await coordinator.add_provider(p.user_id, p.skills, p.langs, [p.region], capacity=2)
            await coordinator.vouch(p.voucher, p.user_id)
            await coordinator.vet(p.user_id)
        for o in orgs:
            await coordinator.add_organization(
                o.handle, o.partner, region=o.region, name=o.name, contact=o.contact
            )
            await coordinator.vouch(o.partner, o.handle)
            await coordinator.vet(o.handle)
    finally:
        await coordinator.aclose()
    return Seeded(
        len(data.members),
        count,
        tuple(p.user_id for p in demo_providers),
        tuple(o.handle for o in orgs),
    )
