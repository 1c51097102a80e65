"""`dsx init`: write a configuration file and generate the keys it names.

Secrets are generated here, never typed by hand: the pickle key that encrypts the
bot's crypto store, the sealing key pair for organizations' personal data and the audit
key that signs the audit log. Files are created with owner-only permissions and never
overwritten, because replacing any key loses history (messages the bot can no longer
decrypt, sealed data nobody can open, an audit log nobody can verify).
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
    data_dir = Path(args.data_dir).resolve()
    keys = data_dir / "keys"
    public_key, private_key = keys / PUBLIC_FILE, keys / PRIVATE_FILE
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
    )
    try:  # a bad --homeserver or --user value: said before anything exists
        cfg.parse(tomllib.loads(text), str(path), env={})
    except cfg.ConfigError as exc:
        return _fail(str(exc))
    created: list[Path] = []
    try:
        for folder in (data_dir, keys, data_dir / "nio-store"):
            if not folder.exists():
                folder.mkdir(parents=True)
                created.append(folder)
            folder.chmod(0o700)
        write_keypair(keys)
        created += [private_key, public_key]
        audit_keys.create(audit_key)  # a new deployment: nothing before the key to pin
        created.append(audit_key)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        created.append(path)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if owner is not None:
            made = (data_dir, keys, data_dir / "nio-store", public_key, private_key, audit_key)
            for item in (*made, path):
                os.chown(item, *owner)
    except OSError as exc:
        for item in reversed(created):
            with contextlib.suppress(OSError):
                item.rmdir() if item.is_dir() else item.unlink()
        return _fail(f"cannot write {exc.filename or path}: {exc.strerror}; nothing was kept")
    owned = f", owned by {args.owner}" if owner else ""
    print(f"wrote {path} (0600{owned}), the sealing key pair and the audit key in {keys}")
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
        f"  7. dsx run --config {path}  (or start the systemd unit)",
    ]
