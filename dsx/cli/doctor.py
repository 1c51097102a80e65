"""`dsx doctor`: check a deployment and print what to fix.

Each check prints one ✓/✗ line (the store and Matrix checks once per bot account); a
failure says what to do about it. The checks change nothing: no migration, no key upload,
no device left behind (a password check that has to log in removes its temporary device
again; the bot's own device is never logged out).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import os
import stat
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator import config as cfg
from coordinator import deployment
from dsx.cli.explain import explain
from dsx.cli.options import add_config, find_config

TIMEOUT_S = 10.0


class Status(enum.Enum):
    OK = "✓"
    WARN = "!"  # runs, but leaves something undone: said, never counted as a failure
    FAIL = "✗"


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.value} {self.name}: {self.detail}"
        return text + (f"\n    fix: {self.fix}" if self.fix else "")


def ok(name: str, detail: str) -> Result:
    return Result(name, Status.OK, detail)


def fail(name: str, detail: str, fix: str) -> Result:
    return Result(name, Status.FAIL, detail, fix)


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check a deployment and print what to fix")
    add_config(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    found = find_config(args.config)
    if found is None:
        print(
            "✗ configuration: none found. Pass --config FILE, set DSX_CONFIG, "
            "or run where dsx.toml is (`dsx init` writes one)."
        )
        return 2
    try:
        conf = cfg.load(found)
    except cfg.ConfigError as exc:
        print(f"✗ configuration: {exc}")
        return 2
    print(f"✓ configuration: {conf.source} is valid")
    results = asyncio.run(diagnose(conf, emit=lambda r: print(r.line(), flush=True)))
    failed = [r for r in results if r.status is Status.FAIL]
    print(f"dsx doctor: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


async def diagnose(
    conf: cfg.Config, emit: Callable[[Result], None] = lambda r: None
) -> list[Result]:
    """Every check, in an order where an earlier failure explains later ones.

    The Matrix checks run for each bot account; a further account's results carry its user
    id in their names (``bot login (@dsx:hs2.example)``).
    """
    results: list[Result] = []

    def add(result: Result) -> None:
        results.append(result)
        emit(result)

    problems = deployment.check_deployment(conf)
    add(check_staff(conf, problems))
    for result in check_settings(problems):
        add(result)
    add(check_store(conf))
    for result in check_sealing_keys(conf, problems):
        add(result)
    add(check_audit_key(conf))
    database = await _guarded("database", lambda: check_database(conf))
    add(database)
    if database.status is Status.OK:
        add(await _guarded("outbox", lambda: check_outbox(conf)))
        from dsx.cli.doctor_rooms import NAME, check_upgraded_rooms

        add(await _guarded(NAME, lambda: check_upgraded_rooms(conf)))
    await _check_account(conf, add)
    for account in conf.accounts[1:]:
        label = f" ({account.user_id})"
        view = conf.for_account(account.user_id)

        def add_labelled(result: Result, label: str = label) -> None:
            add(dataclasses.replace(result, name=result.name + label))

        add_labelled(check_store(view))
        await _check_account(view, add_labelled)
    return results


async def _check_account(conf: cfg.Config, add: Callable[[Result], None]) -> None:
    """Homeserver, login and cross-signing of ``conf.matrix`` (one account)."""
    reachable = await _guarded("homeserver", lambda: check_homeserver(conf))
    add(reachable)
    if reachable.status is Status.OK:
        login, session = await _login(conf)
        add(login)
        if session is not None:
            try:
                add(await _guarded("cross-signing", lambda: check_cross_signing(conf, session)))
            finally:
                if session.temporary:  # deletes the throw-away device, never the bot's own
                    base = conf.matrix.homeserver_url.rstrip("/")
                    await _http("POST", f"{base}/_matrix/client/v3/logout", session.token, {})
        else:
            add(fail("cross-signing", "not checked: no working session", "fix the login first"))
    else:
        add(fail("bot login", "not checked: homeserver unreachable", "fix the homeserver first"))
        add(
            fail("cross-signing", "not checked: homeserver unreachable", "fix the homeserver first")
        )


async def _guarded(name: str, check: Callable[[], Awaitable[Result]]) -> Result:
    try:
        return await asyncio.wait_for(check(), TIMEOUT_S * 2)
    except Exception as exc:
        if os.environ.get("DSX_DEBUG"):  # the traceback, on request only (it may quote URLs)
            traceback.print_exc()
        return fail(
            name, f"check failed: {explain(exc)}", "run it again with DSX_DEBUG=1 for details"
        )


# -- files ------------------------------------------------------------------------------


def _world_readable(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH))


_OWN_LINES = ("staff.members", "sealing.public_key_file", "sealing.private_key_file")


def check_staff(conf: cfg.Config, problems: list[deployment.Problem] | None = None) -> Result:
    """Staff are exactly the listed members: an empty list leaves nobody able to act."""
    problems = deployment.check_deployment(conf) if problems is None else problems
    for p in deployment.errors(problems):
        if p.key == "staff.members":
            return fail("staff", p.text, "list staff Matrix ids under [staff] members")
    return ok("staff", f"{len(conf.staff.members)} listed staff member(s)")


def check_settings(problems: list[deployment.Problem]) -> list[Result]:
    """What `dsx config check` says about the configuration as a whole, one line each
    (the staff and key lines say their own)."""
    rest = [p for p in problems if p.key not in _OWN_LINES]
    if not rest:
        return [ok("settings", "the configuration fits together")]
    return [
        Result(
            "settings",
            Status.FAIL if p.level is deployment.Level.ERROR else Status.WARN,
            f"{p.key}: {p.text}",
            p.fix,
        )
        for p in rest
    ]


def check_store(conf: cfg.Config) -> Result:
    name = "crypto store"
    store = conf.store_path
    if not conf.matrix.pickle_key:
        return fail(
            name, "matrix.pickle_key is empty", "run `dsx init` or set DSX_MATRIX_PICKLE_KEY"
        )
    if not store.exists():
        return fail(
            name,
            f"{store} does not exist",
            f"on a new install create it (mkdir -m 700 {store}; `dsx init` does); "
            "on an existing one restore it from the backup",
        )
    if not store.is_dir():
        return fail(name, f"{store} is not a folder", "point matrix.store_path at a folder")
    if _world_readable(store):
        return fail(name, f"{store} is readable by other users", f"chmod 700 {store}")
    if not _pickle_key_opens(conf):
        return fail(
            name,
            "matrix.pickle_key does not open the stored session",
            "restore the pickle key this store was created with (a new key loses history)",
        )
    return ok(name, f"{store} present, owner-only")


def _pickle_key_opens(conf: cfg.Config) -> bool:
    from partner_bots.sealed import SealedFile, SealedFileError

    sealed = SealedFile(conf.store_path / "session.sealed", conf.matrix.pickle_key, "session")
    try:
        sealed.read()  # None when the bot has never logged in: nothing to check yet
    except SealedFileError:
        return False
    return True


def check_sealing_keys(
    conf: cfg.Config, problems: list[deployment.Problem] | None = None
) -> list[Result]:
    """The file checks are the configuration's (:mod:`coordinator.deployment`); this adds
    that each key parses."""
    problems = deployment.check_deployment(conf) if problems is None else problems
    found = {p.key: p for p in deployment.errors(problems)}
    out: list[Result] = []
    for label, key, value, private in (
        ("sealing public key", "sealing.public_key_file", conf.sealing.public_key_file, False),
        ("sealing private key", "sealing.private_key_file", conf.sealing.private_key_file, True),
    ):
        if not value:
            out.append(fail(label, "not configured", "run `dsx init` or set [sealing] in the file"))
            continue
        path = Path(value)
        if key in found:
            out.append(fail(label, found[key].text, found[key].fix))
            continue
        try:
            _load_key(path, private)
        except Exception:
            out.append(
                fail(label, f"{path} is not a sealing key", "restore the file from the backup")
            )
            continue
        out.append(ok(label, f"{path}" + (" (0600)" if private else "")))
    return out


def check_audit_key(conf: cfg.Config) -> Result:
    """The key that signs the audit log: without it `dsx run` does not start."""
    from coordinator import audit_key

    name = "audit key"
    path = audit_key.key_path(conf)
    if not path.is_file():
        return fail(
            name,
            f"{path} is missing",
            f"on a new install `dsx init` generates it; else restore it from the backup "
            f"(for a database from before the audit key: `dsx audit keygen --config "
            f"{conf.source}`, once)",
        )
    mode = path.stat().st_mode & 0o777
    # Two roles: the web role signs its audit entries too, reading the key by group.
    allowed = 0o640 if conf.web.user else 0o600
    if mode & ~allowed:
        fix = f"chmod {oct(allowed)[2:].zfill(4)} {path}"
        return fail(name, f"{path} has mode {oct(mode)}", fix)
    try:
        audit_key.read(path)
    except audit_key.AuditKeyError as exc:
        return fail(name, str(exc), "restore it from the backup")
    return ok(name, f"{path} ({oct(mode)[2:].zfill(4)})")


def _load_key(path: Path, private: bool) -> None:
    from coordinator.sealing import load_private_key, load_public_key

    if private:
        load_private_key(path)
    else:
        load_public_key(path)


# -- database ---------------------------------------------------------------------------


async def check_database(conf: cfg.Config) -> Result:
    from coordinator.store import current_revision, head_revision

    name = "database"
    url = conf.database_url
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        if not await asyncio.to_thread(path.exists):  # connecting would create an empty file
            return fail(name, f"{path} does not exist", f"run `dsx migrate --config {conf.source}`")
    try:
        current = await current_revision(url)
    except Exception as exc:
        return fail(name, f"cannot connect: {explain(exc)}", "check database.url and the server")
    head = head_revision()
    if current != head:
        return fail(
            name,
            f"at revision {current or 'none'}, code expects {head}",
            f"run `dsx migrate --config {conf.source}`",
        )
    return ok(name, f"reachable, migrations at head ({head})")


async def check_outbox(conf: cfg.Config) -> Result:
    from coordinator.store import create_engine
    from coordinator.store.outbox import stuck

    engine = create_engine(conf.database_url)
    try:
        rows = await stuck(engine)
    finally:
        await engine.dispose()
    dead = [r for r in rows if r.state == "dead"]
    waiting = len(rows) - len(dead)
    if dead:
        codes = ", ".join(sorted({r.error_code or "?" for r in dead}))
        return fail(
            "outbox",
            f"{len(dead)} message(s) given up on ({codes}); {waiting} waiting",
            f"see `dsx outbox list --dead --config {conf.source}`; once the cause is fixed, "
            f"`dsx outbox retry --dead --config {conf.source}`",
        )
    return ok("outbox", f"nothing given up on; {waiting} message(s) waiting")


# -- Matrix -----------------------------------------------------------------------------


async def _http(method: str, url: str, token: str = "", body: dict[str, Any] | None = None):
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.request(method, url, json=body, headers=headers) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            return resp.status, data if isinstance(data, dict) else {}


async def check_homeserver(conf: cfg.Config) -> Result:
    import aiohttp

    name = "homeserver"
    base = conf.matrix.homeserver_url.rstrip("/")
    try:
        status, body = await _http("GET", f"{base}/_matrix/client/versions")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return fail(
            name,
            f"{base} unreachable: {explain(exc)}",
            "start the homeserver, or fix matrix.homeserver_url",
        )
    if status != 200 or "versions" not in body:
        return fail(name, f"{base} answered {status}", "is this a Matrix homeserver's client URL?")
    return ok(name, f"{base} answers (Matrix {body['versions'][-1]})")


def _stored_token(conf: cfg.Config) -> str:
    if conf.matrix.access_token:
        return conf.matrix.access_token
    from partner_bots.sealed import SealedFile

    try:
        doc = SealedFile(
            conf.store_path / "session.sealed", conf.matrix.pickle_key, "session"
        ).read()
    except Exception:
        return ""
    return (doc or {}).get("access_token", "")


@dataclass(frozen=True)
class Session:
    """A token for read-only queries; a temporary one comes from a throw-away device."""

    token: str
    temporary: bool = False


async def _login(conf: cfg.Config) -> tuple[Result, Session | None]:
    """Check the bot's credentials; returns a token usable for read-only queries."""
    name = "bot login"
    m = conf.matrix
    base = m.homeserver_url.rstrip("/")
    token = _stored_token(conf) if m.pickle_key else m.access_token
    if token:
        status, body = await _http("GET", f"{base}/_matrix/client/v3/account/whoami", token)
        if status == 200 and body.get("user_id") == m.user_id:
            detail = f"session of {m.user_id} is valid (device {body.get('device_id')})"
            return ok(name, detail), Session(token)
        if not m.password:
            return fail(
                name, f"the session token is rejected ({status})", "set the bot's password"
            ), None
    if not m.password:
        return fail(name, "no password and no session", "set DSX_MATRIX_PASSWORD"), None
    status, body = await _http(
        "POST",
        f"{base}/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": m.user_id},
            "password": m.password,
            "initial_device_display_name": "dsx doctor (temporary)",
        },
    )
    if status != 200:
        return fail(
            name,
            f"login as {m.user_id} failed ({body.get('errcode', status)})",
            "check matrix.user_id and the password (DSX_MATRIX_PASSWORD)",
        ), None
    session = Session(body["access_token"], temporary=True)
    return ok(name, f"{m.user_id} can log in with its password"), session


async def check_cross_signing(conf: cfg.Config, session: Session) -> Result:
    from partner_bots.signing import single_key, verify_json

    name = "cross-signing"
    m = conf.matrix
    base = m.homeserver_url.rstrip("/")
    status, body = await _http(
        "POST",
        f"{base}/_matrix/client/v3/keys/query",
        session.token,
        {"device_keys": {m.user_id: []}},
    )
    if status != 200:
        return fail(name, f"key query failed ({status})", "check the homeserver")
    start = "start the bot once (`dsx run`): it bootstraps its cross-signing keys"
    master = single_key(body.get("master_keys", {}).get(m.user_id, {}))
    ssk = single_key(body.get("self_signing_keys", {}).get(m.user_id, {}))
    if master is None or ssk is None:
        return fail(name, f"{m.user_id} has no cross-signing keys", start)
    device = body.get("device_keys", {}).get(m.user_id, {}).get(m.device_id)
    if device is None:
        return fail(name, f"device {m.device_id} has no keys on the server", start)
    if not verify_json(device, m.user_id, f"ed25519:{ssk}", ssk):
        return fail(name, f"device {m.device_id} is not signed by the self-signing key", start)
    return ok(name, f"device {m.device_id} is cross-signed (master {master[:8]}…)")
