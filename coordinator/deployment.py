"""The configuration checked as a whole: what each key alone cannot say.

``config.load`` checks every key on its own (types, shapes, unknown names). Whether the
pieces fit together for a deployment (someone is staff, the bot can log in, the keys it
names can be read and are private, the global partner is one of the partners) is decided
here, once, for both `dsx config check` and `dsx doctor`, so the two never disagree.
An error stops `dsx config check` (exit 2) and fails `dsx doctor`; a warning is said and
runs (docs/operator.md, "Configure").
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.config import Config, ConfigError, check_staff


class Level(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    level: Level
    key: str  # the configuration key (or file) it is about
    text: str  # what is wrong, in words
    fix: str  # what to do about it

    def line(self) -> str:
        return f"{self.level.value}: {self.key}: {self.text}; {self.fix}"


def error(key: str, text: str, fix: str) -> Problem:
    return Problem(Level.ERROR, key, text, fix)


def warning(key: str, text: str, fix: str) -> Problem:
    return Problem(Level.WARNING, key, text, fix)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level is Level.ERROR]


def check_deployment(conf: Config) -> list[Problem]:
    """Every cross-field problem of ``conf``, errors and warnings, staff first."""
    out: list[Problem] = []
    out += _staff(conf)
    out += _secrets(conf)
    out += _partners(conf)
    out += _sealing(conf)
    out += _config_file(conf)
    if not conf.emergency.configured:
        out.append(
            warning(
                "emergency",
                "no signal, phone or email: the request form cannot tell an organization "
                "in a crisis whom to reach now (it points them to their partner)",
                "set [emergency] signal, phone or email",
            )
        )
    return out


def _config_file(conf: Config) -> list[Problem]:
    """The file holds the pickle key: owner-only, and owned by whoever owns the data.

    ``dsx init`` run as root writes a file the service user cannot read unless it is
    given ``--owner``; the data folder's owner is the one user we know the service is.
    """
    path = Path(conf.source)
    if not path.is_file():
        return []
    out: list[Problem] = []
    info = path.stat()
    if info.st_mode & 0o007:
        out.append(
            warning(
                str(path),
                f"is readable by other users (mode {oct(stat.S_IMODE(info.st_mode))}), "
                "and a pickle key or password in it would be too",
                f"chmod 600 {path}",
            )
        )
    data = Path(conf.data_dir)
    if data.is_dir():
        owner = data.stat().st_uid
        if owner != info.st_uid and not _group_readable_by(info, owner):
            user = _user_name(owner)
            out.append(
                error(
                    str(path),
                    f"the service user {user} (owner of {data}) cannot read it",
                    f"chown {user}: {path}",
                )
            )
    return out


def _group_readable_by(info: os.stat_result, uid: int) -> bool:
    if not info.st_mode & stat.S_IRGRP:
        return False
    try:
        import pwd

        return pwd.getpwuid(uid).pw_gid == info.st_gid
    except (KeyError, ImportError):
        return False


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def _secrets(conf: Config) -> list[Problem]:
    out: list[Problem] = []
    for n, account in enumerate(conf.accounts):
        key = "matrix" if n == 0 else f"matrix_accounts[{n - 1}]"
        env = "DSX_MATRIX_PASSWORD" if n == 0 else f"DSX_MATRIX_ACCOUNTS_{n - 1}_PASSWORD"
        if not account.user_id:
            out.append(error(f"{key}.user_id", "is empty", "name the bot's Matrix id"))
        if not account.pickle_key:
            out.append(
                error(
                    f"{key}.pickle_key",
                    "is empty: the bot's crypto store would not be encrypted",
                    "run `dsx init`, or set DSX_MATRIX_PICKLE_KEY to a long random string",
                )
            )
        has_session = (Path(account.store_path) / "session.sealed").is_file()
        if not (account.password or account.access_token or has_session):
            out.append(
                error(
                    f"{key}.password",
                    "no password, no access token and no stored session: the bot cannot log in",
                    f"set {env} (in the service's environment file)",
                )
            )
    return out


def _staff(conf: Config) -> list[Problem]:
    out: list[Problem] = []
    try:
        check_staff(conf)
    except ConfigError as exc:
        out.append(error("staff.members", exc.problem, "list staff Matrix ids there"))
    if not conf.staff.room:
        out.append(
            warning(
                "staff.room",
                "is empty: escalations, dead messages and approvals have nowhere to go",
                "create an encrypted room, invite the bot and put its id (!...:server) there",
            )
        )
    return out


def _partners(conf: Config) -> list[Problem]:
    out: list[Problem] = []
    handles = {p.handle for p in conf.partners}
    if not conf.partners:
        out.append(
            warning(
                "partners",
                "none configured: nobody can file a request",
                "add a [[partners]] table (handle, rooms, members), or `!dsx partner add`",
            )
        )
    for p in conf.partners:
        if not p.rooms:
            out.append(
                warning(
                    f"partners.{p.handle}.rooms",
                    "is empty: the partner has no room to talk to the bot in",
                    "add its encrypted room's id",
                )
            )
    glob = conf.policy.global_partner
    if glob and glob not in handles:
        out.append(
            error(
                "policy.global_partner",
                f"names {glob!r}, which is not a configured partner",
                "use the handle of one of the [[partners]], or leave it empty",
            )
        )
    return out


def _sealing(conf: Config) -> list[Problem]:
    out: list[Problem] = []
    s = conf.sealing
    if not s.public_key_file:
        out.append(
            warning(
                "sealing.public_key_file",
                "is not set: the request form cannot keep what organizations type",
                "run `dsx init`, or set [sealing] to a key pair",
            )
        )
    if s.public_key_file and not s.private_key_file:
        out.append(
            warning(
                "sealing.private_key_file",
                "is not set: details typed into the form wait in the outbox",
                "set it on the host that runs `dsx run`",
            )
        )
    if s.public_key_file and s.private_key_file:
        if Path(s.public_key_file).resolve() == Path(s.private_key_file).resolve():
            out.append(
                error(
                    "sealing.public_key_file",
                    "names the private key file: the web role would hold the private key",
                    "point it at the public key (sealing.pub)",
                )
            )
            return out
    for key, value, private in (
        ("sealing.public_key_file", s.public_key_file, False),
        ("sealing.private_key_file", s.private_key_file, True),
    ):
        if value:
            out += _key_file(key, Path(value), private)
    return out + _web_user(conf)


def _web_user(conf: Config) -> list[Problem]:
    """The web role's user (``[web] user``) must not be able to read the private key: a
    stolen web server would then open everything sealed (docs/operator.md, "Two roles")."""
    name, private = conf.web.user, conf.sealing.private_key_file
    if not name:
        return []
    try:
        import pwd

        entry = pwd.getpwnam(name)
    except (KeyError, ImportError):
        return [warning("web.user", f"{name!r} is not a user here", "create it or fix [web] user")]
    if private and Path(private).is_file() and readable_by(Path(private), entry):
        return [
            warning(
                "web.user",
                f"the web role's user {name} can read the private key {private}",
                f"keep it in a folder only the bot's user enters: chmod 700 "
                f"{Path(private).parent} (`dsx init` puts it in private/)",
            )
        ]
    return []


def readable_by(path: Path, user: Any) -> bool:
    """Could ``user`` (a ``pwd`` entry) open ``path`` for reading, by its mode bits?

    Every folder on the way must let it through and the file let it read, as owner, as
    a member of the file's group or as anyone. Root reads everything. ACLs are not read.
    """
    if user.pw_uid == 0:
        return True
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))

    def allows(item: Path, bit: int) -> bool:
        info = item.stat()
        if info.st_uid == user.pw_uid:
            return bool(info.st_mode & (bit << 6))
        if info.st_gid in groups:
            return bool(info.st_mode & (bit << 3))
        return bool(info.st_mode & bit)

    resolved = path.resolve()
    return all(allows(folder, 0o1) for folder in resolved.parents) and allows(resolved, 0o4)


def _key_file(key: str, path: Path, private: bool) -> list[Problem]:
    if not path.is_file():
        if _has_other_state(path):
            fix = "restore it from the backup (a new key cannot open what the old one sealed)"
        else:
            fix = "on a new install `dsx init` generates the pair; else restore it from the backup"
        return [error(key, f"{path} does not exist", fix)]
    if not os.access(path, os.R_OK):
        owner = _user_name(path.stat().st_uid)
        return [
            error(key, f"{path} cannot be read by this user (it belongs to {owner})", _as(owner))
        ]
    mode = stat.S_IMODE(path.stat().st_mode)
    if private and mode & 0o077:
        return [error(key, f"{path} is readable by others (mode {oct(mode)})", f"chmod 600 {path}")]
    if path.parent.stat().st_mode & 0o007:
        return [
            error(
                key, f"its folder {path.parent} is open to other users", f"chmod 700 {path.parent}"
            )
        ]
    return []


def _as(owner: str) -> str:
    return f"run the command as {owner} (sudo -u {owner} dsx ...)"


def _has_other_state(path: Path) -> bool:
    """A missing key next to existing state was lost; in an empty folder it was never made."""
    folder = path.parent
    return folder.is_dir() and any(folder.iterdir())
