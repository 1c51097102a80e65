"""The demo's infrastructure: two federating homeservers, accounts, rooms and a configuration.

Everything lives under one data folder and listens on loopback only. Passwords are random
per run and printed at the end so a person can sign in with Element.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator import audit_key
from coordinator import config as cfg
from coordinator.sealing import write_keypair
from partner_bots.homeserver.synapse import Homeserver, free_port
from partner_bots.homeserver.user_client import UserClient

BOT_DEVICE = "DSXDEMOBOT"


@dataclass(frozen=True)
class Person:
    """A demo account: who they are in the story, and on which homeserver (0 or 1)."""

    label: str
    localpart: str
    server: int


@dataclass(frozen=True)
class PartnerSpec:
    handle: str
    name: str
    member: Person


PARTNERS = (
    PartnerSpec("riverside", "Riverside Legal Collective", Person("Ana (Riverside)", "ana", 0)),
    PartnerSpec("northstar", "Northstar Organizers", Person("Ben (Northstar)", "ben", 0)),
    PartnerSpec("delta", "Delta Press Alliance", Person("Chidi (Delta)", "chidi", 1)),
)
STAFF = Person("Sam (staff)", "sam", 0)
PROVIDERS = (Person("Priya (provider)", "priya", 0), Person("Tomás (provider)", "tomas", 1))


@dataclass(frozen=True)
class Login:
    label: str
    user_id: str
    password: str
    homeserver: str


@dataclass
class Stack:
    """What ``build`` started and created; ``stop`` undoes the processes."""

    root: Path
    servers: list[Homeserver]
    bot_user: str
    bot_password: str
    partners: dict[str, UserClient]
    partner_rooms: dict[str, str]
    staff: UserClient
    staff_room: str
    providers: dict[str, UserClient]
    logins: list[Login]
    config_path: Path | None = None
    web_port: int = 0
    web_url: str = ""

    @property
    def actors(self) -> list[UserClient]:
        return [*self.partners.values(), self.staff, *self.providers.values()]

    async def close_actors(self) -> None:
        await asyncio.gather(*(a.close() for a in self.actors), return_exceptions=True)

    async def stop(self) -> None:
        await self.close_actors()
        await asyncio.gather(*(s.stop() for s in self.servers), return_exceptions=True)


async def start_servers(root: Path, into: list[Homeserver]) -> None:
    """Start two federating homeservers, listed in ``into`` before they start so that the
    caller can stop both even if one fails or the start is interrupted."""
    into.extend(Homeserver(root / f"hs{i + 1}") for i in range(2))
    results = await asyncio.gather(*(s.start() for s in into), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def build(root: Path, servers: list[Homeserver]) -> Stack:
    """Register every account and create the encrypted partner rooms and the staff room."""
    password = {p: demo_password() for p in ("bot", *[x.localpart for x in _people()])}
    bot = await servers[0].register("dsx", password["bot"])

    async def actor(person: Person) -> UserClient:
        hs = servers[person.server]
        user = await hs.register(person.localpart, password[person.localpart])
        a = UserClient(hs, user, root / "people" / person.localpart, label=person.label)
        await a.start()
        return a

    people = await asyncio.gather(*(actor(p) for p in _people()))
    by_local = {p.localpart: a for p, a in zip(_people(), people, strict=True)}
    partners = {spec.handle: by_local[spec.member.localpart] for spec in PARTNERS}
    staff = by_local[STAFF.localpart]
    providers = {p.localpart: by_local[p.localpart] for p in PROVIDERS}

    rooms = await asyncio.gather(
        *(
            partners[s.handle].create_encrypted_room([bot.user_id], f"DSX · {s.name}")
            for s in PARTNERS
        )
    )
    staff_room = await staff.create_encrypted_room([bot.user_id], "DSX · staff")
    logins = [Login("bot", bot.user_id, password["bot"], servers[0].base_url)] + [
        Login(
            p.label,
            by_local[p.localpart].user_id,
            password[p.localpart],
            servers[p.server].base_url,
        )
        for p in _people()
    ]
    return Stack(
        root=root,
        servers=servers,
        bot_user=bot.user_id,
        bot_password=password["bot"],
        partners=partners,
        partner_rooms={s.handle: r for s, r in zip(PARTNERS, rooms, strict=True)},
        staff=staff,
        staff_room=staff_room,
        providers=providers,
        logins=logins,
    )


def demo_password() -> str:
    """Letters and digits only, so it can be copied from a terminal without surprises."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(14))


def _people() -> list[Person]:
    return [*(s.member for s in PARTNERS), STAFF, *PROVIDERS]


def write_config(stack: Stack) -> cfg.Config:
    """The demo's dsx.toml (0600) and sealing keys; returns the validated Config."""
    data = stack.root / "coordinator"
    keys = data / "keys"
    for folder in (data, keys, data / "nio-store"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    public_key, private_key = write_keypair(keys)
    audit_key.create(keys / audit_key.KEY_FILE)
    stack.web_port = free_port()
    doc: dict[str, Any] = {
        "data_dir": str(data),
        "log_level": "WARNING",
        "matrix": {
            "homeserver_url": stack.servers[0].base_url,
            "user_id": stack.bot_user,
            "password": stack.bot_password,
            "device_id": BOT_DEVICE,
            "store_path": str(data / "nio-store"),
            "pickle_key": secrets.token_urlsafe(32),
            "device_policy": "tofu",
        },
        "database": {"url": f"sqlite+aiosqlite:///{data / 'dsx.sqlite3'}"},
        "staff": {"room": stack.staff_room, "members": [stack.staff.user_id]},
        "web": {
            "bind": "127.0.0.1",
            "port": stack.web_port,
            "public_url": f"http://127.0.0.1:{stack.web_port}",
        },
        "sealing": {"public_key_file": str(public_key), "private_key_file": str(private_key)},
        "audit": {"key_file": str(keys / audit_key.KEY_FILE)},
        "partners": [
            {
                "handle": s.handle,
                "rooms": [stack.partner_rooms[s.handle]],
                "members": [stack.partners[s.handle].user_id],
            }
            for s in PARTNERS
        ],
    }
    path = stack.root / "dsx.toml"
    path.write_text(to_toml(doc))
    path.chmod(0o600)
    stack.config_path = path
    return cfg.load(path, env={})


def to_toml(doc: dict[str, Any]) -> str:
    """Enough TOML for our configuration: strings, numbers, booleans, lists, tables."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(type(v).__name__)

    lines = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict | list)]
    lines += [f"{k} = {value(v)}" for k, v in doc.items() if isinstance(v, list) and not _tables(v)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]", *(f"{kk} = {value(vv)}" for kk, vv in v.items())]
        elif isinstance(v, list) and _tables(v):
            for item in v:
                lines += ["", f"[[{k}]]", *(f"{kk} = {value(vv)}" for kk, vv in item.items())]
    return "\n".join(lines) + "\n"


def _tables(v: list[Any]) -> bool:
    return bool(v) and all(isinstance(x, dict) for x in v)
