"""`dsx init`: write a configuration file and generate the keys it names.

Secrets are generated here, never typed by hand: the pickle key that encrypts the
bot's crypto store, the sealing key pair for organizations' personal data and the audit
key that signs the audit log. Files are created with owner-only permissions and never
overwritten, because replacing any key loses history (messages the bot can no longer
decrypt, sealed data nobody can open, an audit log nobody can verify).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from coordinator import audit_key as audit_keys
from coordinator import config as cfg
from coordinator.sealing import write_keypair

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


def run(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if path.exists():
        print(f"dsx init: {path} exists; refusing to overwrite it (or its keys)", file=sys.stderr)
        return 2
    staff = _staff(args.staff)
    if staff is None:
        print(
            "dsx init: name at least one staff member with --staff @you:server "
            "(staff are exactly the listed members)",
            file=sys.stderr,
        )
        return 2
    bad = [s for s in staff if not cfg.looks_like_user_id(s)]
    if bad:
        print(f"dsx init: --staff {bad[0]!r} must look like @name:server", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    keys = data_dir / "keys"
    for folder in (data_dir, keys, data_dir / "nio-store"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    try:
        audit_key = keys / audit_keys.KEY_FILE
        if audit_key.exists():
            raise FileExistsError(f"{audit_key} exists")
        public_key, private_key = write_keypair(keys)
        audit_keys.create(audit_key)  # a new deployment: nothing before the key to pin
    except FileExistsError as exc:
        print(f"dsx init: {exc}; refusing to replace existing keys", file=sys.stderr)
        return 2
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        cfg.load(path, env={})
    except cfg.ConfigError as exc:  # a bad --homeserver or --user value
        path.unlink()
        print(f"dsx init: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (0600), the sealing key pair and the audit key in {keys}")
    print(f"staff: {', '.join(staff)} (only listed [staff] members are staff)")
    print(
        "next: set the bot's password (DSX_MATRIX_PASSWORD) and [staff] room; add more staff "
        "under [staff] members; then `dsx doctor --config",
        path,
        "`",
    )
    print("back up the keys folder and the nio store: losing them loses history")
    return 0
