"""`dsx init`: write a configuration file and generate the keys it names.

Secrets are generated here, never typed by hand: the pickle key that encrypts the
bot's crypto store, the sealing key pair for organizations' personal data and the audit
key that signs the audit log. Files are created with owner-only permissions and never
overwritten, because replacing any key loses history (messages the bot can no longer
decrypt, sealed data nobody can open, an audit log nobody can verify).

The two halves of the sealing pair live apart: the public key in ``keys/`` beside the
audit key (what the web role reads), the private key in ``private/``, a folder only the
owner (the bot role's user) can enter. With ``--web-user`` the web role's user gets read
access, through the owner's group, to exactly the file, ``keys/`` and the audit key
(docs/operator.md, "Two roles").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tomllib
from pathlib import Path

from coordinator import audit_key as audit_keys
from coordinator import config as cfg
from coordinator.sealing import PRIVATE_FILE, PUBLIC_FILE, write_keypair

# Where the private sealing key goes, in the data folder: owner-only, apart from keys/.
PRIVATE_DIR = "private"

TEMPLATE = """\
# dsx.toml, written by `dsx init`. Every key: see deploy/dsx.example.toml.
# Secrets can also come from the environment (DSX_MATRIX_PASSWORD, ...).
data_dir = "{data_dir}"
log_level = "INFO"

[matrix]
homeserver_url = "{homeserver_url}"
user_id = "{user_id}"
password = ""          # or set DSX_MATRIX_PASSWORD
device_id = "{device_id}"
store_path = "{store_path}"
pickle_key = "{pickle_key}"
device_policy = "cross-signed"  # or "tofu": docs/security.md, "Whose words count"

[database]
url = "{database_url}"

[staff]
room = ""              # the staff room's id (!...:server), once it exists
# Staff are exactly these users (add more as needed); nobody else can act as staff.
members = [{staff}]

[policy]
global_partner = ""

[web]
bind = "127.0.0.1"
port = 8080
public_url = "http://127.0.0.1:8080"
user = "{web_user}"  # who runs `dsx run --role web` (two roles); empty: one process

[sealing]
public_key_file = "{public_key}"
private_key_file = "{private_key}"

[audit]
key_file = "{audit_key}"
"""


def register(sub) -> None:
    p = sub.add_parser("init", help="write a configuration file and generate keys")
    p.add_argument("--config", "-c", default="dsx.toml", help="file to write (default dsx.toml)")
    p.add_argument("--data-dir", default="./dsx-data", help="where data, store and keys live")
    p.add_argument("--homeserver", default="http://127.0.0.1:8008", help="homeserver URL")
    p.add_argument("--user", default="@dsx:localhost", help="the bot's Matrix user id")
    p.add_argument("--database", default="", help="database URL (default: SQLite in data dir)")
    p.add_argument(
        "--staff",
        action="append",
        default=[],
        metavar="@you:server",
        help="a staff member's Matrix id (repeat for more); asked for when not given",
    )
    p.add_argument(
        "--owner",
        default="",
        metavar="USER",
        help="the service user (e.g. dsx) that will own the file, data and keys; "
        "needed when init runs as root",
    )
    p.add_argument(
        "--web-user",
        default="",
        metavar="USER",
        help="the user of `dsx run --role web` (e.g. dsx-web, a member of the owner's group): "
        "it may read the file, the public key and the audit key, never the private key",
    )
    p.set_defaults(func=run)


def _staff(given: list[str]) -> list[str] | None:
    """The staff list: from ``--staff``, else asked for on a terminal; None if there is none."""
    if given:
        return given
    if not sys.stdin.isatty():
        return None
    try:
        answer = input("Matrix id of the first staff member (@you:server): ").strip()
    except EOFError:
        return None
    return [answer] if answer else None


def _owner(name: str) -> tuple[int, int] | None:
    import pwd

    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def _web_user_problem(name: str, owner: tuple[int, int] | None) -> str | None:
    """Why ``name`` cannot be the web role's user here, or None: it must exist, be
    someone other than the owner, and belong to the owner's group (how it reads)."""
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return f"--web-user {name!r} is not a user here (useradd --system first)"
    uid, gid = owner if owner is not None else (os.getuid(), os.getgid())
    if entry.pw_uid == uid:
        return f"--web-user {name!r} is the owner: the web role needs a user of its own"
    if gid not in os.getgrouplist(name, entry.pw_gid):
        return f"--web-user {name!r} is not in the owner's group (usermod -aG GROUP {name})"
    return None


def _fail(message: str) -> int:
    print(f"dsx init: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """All or nothing: everything is checked before the first file is written, and what
    was written is removed again if a later step fails, so a retry starts clean."""
    path = Path(args.config)
    if path.exists():
        return _fail(f"{path} exists; refusing to overwrite it (or its keys)")
    staff = _staff(args.staff)
    if staff is None:
        return _fail(
            "name at least one staff member with --staff @you:server "
            "(staff are exactly the listed members)"
        )
    bad = [s for s in staff if not cfg.looks_like_user_id(s)]
    if bad:
        return _fail(f"--staff {bad[0]!r} must look like @name:server")
    owner = None
    if args.owner:
        try:
            owner = _owner(args.owner)
        except KeyError:
            return _fail(f"--owner {args.owner!r} is not a user here (useradd --system first)")
    if args.web_user:
        problem = _web_user_problem(args.web_user, owner)
        if problem:
            return _fail(problem)
    data_dir = Path(args.data_dir).resolve()
    keys, private = data_dir / "keys", data_dir / PRIVATE_DIR
    public_key, private_key = keys / PUBLIC_FILE, private / PRIVATE_FILE
    audit_key = keys / audit_keys.KEY_FILE
    existing = [k for k in (public_key, private_key, audit_key) if k.exists()]
    if existing:
        return _fail(
            f"{existing[0]} exists (keys of an earlier init); if nothing was ever sealed with "
            f"it, delete {keys} and run again, else keep it and write the config by hand"
        )
    text = TEMPLATE.format(
        data_dir=data_dir,
        homeserver_url=args.homeserver,
        user_id=args.user,
        device_id="DSX" + secrets.token_hex(4).upper(),
        store_path=data_dir / "nio-store",
        pickle_key=secrets.token_urlsafe(32),
        database_url=args.database,
        public_key=public_key,
        private_key=private_key,
        staff=", ".join(json.dumps(s) for s in staff),
        audit_key=audit_key,
        web_user=args.web_user,
    )
    try:  # a bad --homeserver or --user value: said before anything exists
        cfg.parse(tomllib.loads(text), str(path), env={})
    except cfg.ConfigError as exc:
        return _fail(str(exc))
    # With a web user, its group (the owner's) reads what the web role needs; else nobody.
    shared = 0o750 if args.web_user else 0o700
    readable = 0o640 if args.web_user else 0o600
    created: list[Path] = []
    try:
        folders = {data_dir: shared, keys: shared, private: 0o700, data_dir / "nio-store": 0o700}
        for folder, mode in folders.items():
            if not folder.exists():
                folder.mkdir(parents=True)
                created.append(folder)
            folder.chmod(mode)
        write_keypair(keys, private_path=private_key)
        created += [private_key, public_key]
        audit_keys.create(audit_key)  # a new deployment: nothing before the key to pin
        created.append(audit_key)
        audit_key.chmod(readable)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        created.append(path)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        path.chmod(readable)
        if owner is not None:
            for item in (*folders, public_key, private_key, audit_key, path):
                os.chown(item, *owner)
    except OSError as exc:
        for item in reversed(created):
            with contextlib.suppress(OSError):
                item.rmdir() if item.is_dir() else item.unlink()
        return _fail(f"cannot write {exc.filename or path}: {exc.strerror}; nothing was kept")
    owned = f", owned by {args.owner}" if owner else ""
    print(
        f"wrote {path} ({oct(readable)[2:].zfill(4)}{owned}), the public sealing key and the "
        f"audit key in {keys}, the private sealing key in {private} (0700, owner only)"
    )
    if args.web_user:
        print(f"the web role's user {args.web_user} reads {path}, {keys}; never {private}")
    print(f"staff: {', '.join(staff)} (only listed [staff] members are staff)")
    for line in next_steps(path):
        print(line)
    print("back up the keys folder and the nio store: losing them loses history")
    if owner is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        print(
            f"note: everything belongs to root; for a service user: chown -R dsx: {data_dir} {path}"
        )
    return 0


def next_steps(path: Path) -> list[str]:
    """Every step between a fresh file and a running service (docs/operator.md)."""
    return [
        "next:",
        "  1. set the bot's password: DSX_MATRIX_PASSWORD in the service's environment file",
        "  2. create the encrypted staff room, invite the bot, put its id in [staff] room",
        f"     of {path}, and add more staff under [staff] members",
        "  3. add each partner as a [[partners]] table (handle, rooms, members)",
        f"  4. dsx config check --config {path}",
        f"  5. dsx migrate --config {path}",
        f"  6. dsx doctor --config {path}  (cross-signing stays ✗ until the first `dsx run`)",
        f"  7. dsx run --config {path}  (one process), or in production the two roles:",
        "     --role bot and --role web (deploy/systemd/dsx-bot.service, dsx-web.service)",
    ]
