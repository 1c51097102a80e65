"""Configuration: one TOML file (``dsx.toml``) plus ``DSX_...`` environment overrides.

Validation is strict on purpose: an operator who misspells ``pickle_key`` must hear
about it at start-up, naming the key and the file, rather than run with a default
that silently weakens the crypto store.

Environment overrides take the form ``DSX_<SECTION>_<KEY>`` (for example
``DSX_MATRIX_PASSWORD`` or ``DSX_DATABASE_URL``); lists are comma-separated. The
``[[partners]]`` array can only be set in the file; the keys of a further bot account
declared there (``[[matrix_accounts]]``) as ``DSX_MATRIX_ACCOUNTS_<n>_<KEY>``, counted
from 0, so its password too can stay out of the file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration problem, with the key and the file that caused it."""

    def __init__(self, source: str, key: str, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class MatrixConfig:
    homeserver_url: str = "http://127.0.0.1:8008"
    user_id: str = ""
    password: str = ""
    access_token: str = ""
    device_id: str = "DSXCOORDINATOR"
    store_path: str = ""
    pickle_key: str = ""
    # Whose devices get room keys and whose commands count: "cross-signed" (a device its
    # owner signed with their self-signing key) or "tofu" (trust on first use, pinned; new
    # devices are announced in the room). See docs/security.md.
    device_policy: str = "cross-signed"
    # Seconds an undecryptable event waits for its room key before the bot asks for a re-send.
    undecryptable_grace_seconds: int = 60
    # How the bot appears in partners' clients, set at every start (empty: left as is).
    display_name: str = "DSX coordinator"
    avatar_file: str = ""  # a PNG or JPEG, uploaded once and re-used while unchanged


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty means: a SQLite file in the data folder.
    url: str = ""


@dataclass(frozen=True)
class StaffConfig:
    room: str = ""
    # Staff are exactly these users; power level in the staff room never makes anyone staff.
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerConfig:
    handle: str
    rooms: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    # A global partner receives referrals of non-U.S. cases.
    is_global: bool = False
    # User id of the bot account that serves this partner's rooms; empty: the [matrix] one.
    account: str = ""


@dataclass(frozen=True)
class PolicyConfig:
    # Who is trusted, in an operator's terms (docs/trust.md): the membership planned for,
    # the fakes one compromised member may bring in, the colluders the bound holds for.
    expected_members: int = 2000
    fakes_per_member: int = 12
    colluders: int = 2
    # Experts only: an Advogato capacity schedule (seeds first, then each level further
    # out) replaces the rule above; max_depth applies to it alone. Empty: not used.
    capacities: tuple[int, ...] = ()
    max_depth: int = 6
    provider_min_references: int = 2
    organization_min_references: int = 2
    max_paths: int = 3
    # Minutes before an unacknowledged request is escalated to the staff room.
    sla_minutes_critical: int = 60
    sla_minutes_high: int = 120
    # Seconds between two checks for urgent requests past their window.
    sla_check_seconds: int = 60
    # Days a public-form submission stays sealed after its details reached the routing
    # partner's encrypted room (for a re-send); then it is purged. Never before delivery.
    intake_retention_days: int = 30
    # Days a sent message's row (id, room, event id; its content is deleted once sent)
    # and a handled event's id are kept: long enough for a resend or a redelivery.
    outbox_retention_days: int = 7
    inbox_retention_days: int = 7
    # Days a referred request keeps its organization and needs (for the introduction to
    # the global partner); then only its state, code and date remain.
    referral_retention_days: int = 30
    # Power level that lets a room member who is not listed act for a partner.
    partner_power_level: int = 50
    global_partner: str = ""


@dataclass(frozen=True)
class WebConfig:
    bind: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    session_minutes: int = 60
    # Days an API token (created on the dashboard) lives unless revoked before.
    api_token_days: int = 7
    # A reverse proxy in front terminates TLS and sets X-Forwarded-Proto/-For; without
    # this those headers are ignored, since any client could send them.
    trust_proxy: bool = False
    # Where that proxy connects from (addresses or networks such as 172.18.0.0/16): the
    # headers count only on a connection from one of these (docs/operator.md).
    proxy_peers: tuple[str, ...] = ("127.0.0.1", "::1")
    # Where people who use the forms and dashboard get this program's source (the AGPL
    # asks for it). Empty: the app serves its own running code at /source.
    source_url: str = ""


@dataclass(frozen=True)
class EmergencyConfig:
    """Whom an organization in a crisis reaches *now*, beside the form: shown on the
    public pages wherever they are told to write to us."""

    signal: str = ""
    email: str = ""
    phone: str = ""
    hours: str = ""  # for example "every day, 8:00-22:00 US Eastern"

    @property
    def configured(self) -> bool:
        return bool(self.signal or self.email or self.phone)


@dataclass(frozen=True)
class MetricsConfig:
    # Prometheus metrics (aggregates only) at http://bind:port/metrics; 0 turns them off.
    # Keep them on loopback: scrape locally, never through the public proxy.
    bind: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class SealingConfig:
    # Paths to the sealing key pair; the web process only needs the public key.
    public_key_file: str = ""
    private_key_file: str = ""


@dataclass(frozen=True)
class AuditConfig:
    # The key that signs the audit chain (coordinator/audit_key.py); empty means
    # keys/audit.key in the data folder. Never in the database.
    key_file: str = ""


@dataclass(frozen=True)
class Config:
    data_dir: str = "./dsx-data"
    log_level: str = "INFO"
    log_format: str = "auto"  # json | console | auto (console on a terminal)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    staff: StaffConfig = field(default_factory=StaffConfig)
    partners: tuple[PartnerConfig, ...] = ()
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    web: WebConfig = field(default_factory=WebConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    emergency: EmergencyConfig = field(default_factory=EmergencyConfig)
    sealing: SealingConfig = field(default_factory=SealingConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    # Further bot accounts ([[matrix_accounts]]), each possibly on its own homeserver.
    matrix_accounts: tuple[MatrixConfig, ...] = ()
    source: str = "<defaults>"

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{Path(self.data_dir).resolve() / 'dsx.sqlite3'}"

    @property
    def store_path(self) -> Path:
        return Path(self.matrix.store_path or Path(self.data_dir) / "nio-store")

    @property
    def accounts(self) -> tuple[MatrixConfig, ...]:
        """Every bot account, the primary ([matrix]) first, with store path and pickle key
        resolved: a further account without its own gets a store folder named after its
        user id and the primary's pickle key."""
        primary = dataclasses.replace(self.matrix, store_path=str(self.store_path))
        return (primary, *(self._resolved(a) for a in self.matrix_accounts))

    def _resolved(self, account: MatrixConfig) -> MatrixConfig:
        store = account.store_path or str(Path(self.data_dir) / f"nio-store-{_slug(account)}")
        return dataclasses.replace(
            account, store_path=store, pickle_key=account.pickle_key or self.matrix.pickle_key
        )

    def for_account(self, user_id: str) -> Config:
        """This configuration as one account sees it: that account as ``matrix``."""
        account = next((a for a in self.accounts if a.user_id == user_id), None)
        if account is None:
            raise KeyError(user_id)
        return dataclasses.replace(self, matrix=account, matrix_accounts=())

    def account_of_partner(self, handle: str) -> str:
        """The user id of the account serving a partner (the primary unless configured)."""
        found = next((p.account for p in self.partners if p.handle == handle), "")
        return found or self.matrix.user_id


_SECTIONS: dict[str, type] = {
    "matrix": MatrixConfig,
    "database": DatabaseConfig,
    "staff": StaffConfig,
    "policy": PolicyConfig,
    "web": WebConfig,
    "sealing": SealingConfig,
    "metrics": MetricsConfig,
    "emergency": EmergencyConfig,
    "audit": AuditConfig,
}
_TOP_LEVEL = {"data_dir", "log_level", "log_format"}
_ACCOUNTS = "matrix_accounts"
_VALID_DEVICE_POLICIES = {"tofu", "cross-signed"}
_VALID_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


def _coerce(source: str, key: str, value: Any, annotation: Any) -> Any:
    """Check one value against its declared type, converting env strings where needed."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "0", "false", "no"}:
            return value.lower() in {"1", "true", "yes"}
        raise ConfigError(source, key, f"expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(source, key, f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(source, key, f"expected a whole number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(source, key, f"expected a string, got {value!r}")
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(annotation)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        return tuple(_coerce(source, f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    raise ConfigError(source, key, f"unsupported type {annotation!r}")  # pragma: no cover


def _build(cls: type, raw: Mapping[str, Any], source: str, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in known:
            raise ConfigError(source, dotted, f"unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = _coerce(source, dotted, value, hints[key])
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(source, f"{prefix}.{missing[0]}", "is required")
    return cls(**kwargs)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Map ``DSX_SECTION_KEY`` variables onto the same shape as the TOML document (a
    section's table, a top-level string, or the accounts' overrides by table number)."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith("DSX_") or name.startswith("DSX_TEST_"):
            continue
        rest = name[4:].lower()
        if rest in _TOP_LEVEL:
            out[rest] = value
            continue
        if rest.startswith(_ACCOUNTS + "_"):
            # DSX_MATRIX_ACCOUNTS_<i>_<KEY>: the i-th [[matrix_accounts]] table (from 0).
            index, _, key = rest[len(_ACCOUNTS) + 1 :].partition("_")
            if not index.isdigit() or not key:
                raise ConfigError(
                    f"environment variable {name}", name, "expected DSX_MATRIX_ACCOUNTS_<n>_<KEY>"
                )
            out.setdefault(_ACCOUNTS, {}).setdefault(int(index), {})[key] = (name, value)
            continue
        for section in _SECTIONS:
            if rest.startswith(section + "_"):
                out.setdefault(section, {})[rest[len(section) + 1 :]] = value
                break
        else:
            if rest in {"config"}:
                continue
            raise ConfigError(f"environment variable {name}", name, "is not a known setting")
    return out


def parse(document: Mapping[str, Any], source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed TOML document (and environment overrides) into a Config."""
    doc: dict[str, Any] = dict(document)
    for key, value in _env_overrides(env or {}).items():
        if key == _ACCOUNTS:
            doc[key] = _override_accounts(doc.get(key), value)
        elif isinstance(value, dict):
            section = dict(doc.get(key, {}))
            section.update(value)
            doc[key] = section
        else:
            doc[key] = value

    kwargs: dict[str, Any] = {"source": source}
    for key, value in doc.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(source, key, "expected a table ([" + key + "])")
            kwargs[key] = _build(_SECTIONS[key], value, source, key)
        elif key == "partners":
            if not isinstance(value, list):
                raise ConfigError(source, "partners", "expected an array of tables ([[partners]])")
            partners = []
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise ConfigError(source, f"partners[{i}]", "expected a table")
                partners.append(_build(PartnerConfig, item, source, f"partners[{i}]"))
            kwargs["partners"] = tuple(partners)
        elif key == _ACCOUNTS:
            if not isinstance(value, list):
                raise ConfigError(source, key, "expected an array of tables ([[matrix_accounts]])")
            accounts = []
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise ConfigError(source, f"{key}[{i}]", "expected a table")
                accounts.append(_build(MatrixConfig, item, source, f"{key}[{i}]"))
            kwargs[key] = tuple(accounts)
        elif key in _TOP_LEVEL:
            kwargs[key] = _coerce(source, key, value, str)
        else:
            known = sorted([*_SECTIONS, "partners", _ACCOUNTS, *_TOP_LEVEL])
            raise ConfigError(source, key, f"unknown key (known: {', '.join(known)})")
    config = Config(**kwargs)
    _check(config)
    return config


def _override_accounts(tables: Any, overrides: dict[int, dict[str, tuple[str, str]]]) -> Any:
    """Apply ``DSX_MATRIX_ACCOUNTS_<i>_<KEY>`` to tables that the file declares."""
    tables = [dict(t) if isinstance(t, dict) else t for t in (tables or [])]
    for index, keys in sorted(overrides.items()):
        for key, (name, value) in keys.items():
            if index >= len(tables) or not isinstance(tables[index], dict):
                raise ConfigError(
                    f"environment variable {name}",
                    name,
                    f"the file has no [[matrix_accounts]] table number {index} (counted from 0)",
                )
            tables[index][key] = value
    return tables


def _check_account(src: str, prefix: str, account: MatrixConfig) -> None:
    if account.device_policy not in _VALID_DEVICE_POLICIES:
        raise ConfigError(
            src, f"{prefix}.device_policy", f"must be one of {sorted(_VALID_DEVICE_POLICIES)}"
        )
    if account.user_id and not _is_mxid(account.user_id):
        raise ConfigError(src, f"{prefix}.user_id", "must look like @name:server")
    if not account.homeserver_url.startswith(("http://", "https://")):
        raise ConfigError(src, f"{prefix}.homeserver_url", "must start with http:// or https://")
    if account.pickle_key and len(account.pickle_key) < 16:
        raise ConfigError(src, f"{prefix}.pickle_key", "must be at least 16 characters")


def _check_accounts(config: Config) -> None:
    """Further accounts: named, distinct from each other and the primary, own stores."""
    src = config.source
    _check_account(src, "matrix", config.matrix)
    users = {config.matrix.user_id}
    stores = {config.store_path.resolve()}
    for i, account in enumerate(config.accounts[1:]):
        prefix = f"{_ACCOUNTS}[{i}]"
        if not account.user_id:
            raise ConfigError(src, f"{prefix}.user_id", "is required")
        _check_account(src, prefix, config.matrix_accounts[i])
        if account.user_id in users:
            raise ConfigError(src, f"{prefix}.user_id", f"duplicate account {account.user_id!r}")
        users.add(account.user_id)
        store = Path(account.store_path).resolve()
        if store in stores:
            raise ConfigError(
                src, f"{prefix}.store_path", "another account uses this store; each needs its own"
            )
        stores.add(store)
    for i, partner in enumerate(config.partners):
        if partner.account and partner.account not in users:
            raise ConfigError(
                src,
                f"partners[{i}].account",
                f"{partner.account!r} is not a configured bot account "
                "([matrix] or [[matrix_accounts]] user_id)",
            )


def _check(config: Config) -> None:
    src = config.source
    if config.log_level.upper() not in _VALID_LOG_LEVELS:
        raise ConfigError(src, "log_level", f"must be one of {sorted(_VALID_LOG_LEVELS)}")
    if config.log_format not in ("json", "console", "auto"):
        raise ConfigError(src, "log_format", "must be one of ['auto', 'console', 'json']")
    _check_accounts(config)
    if config.database.url and not config.database.url.startswith(("sqlite", "postgresql")):
        raise ConfigError(src, "database.url", "must be a sqlite+aiosqlite:// or postgresql:// URL")
    if any(c < 1 for c in config.policy.capacities):
        raise ConfigError(src, "policy.capacities", "must be a list of positive numbers")
    for key in ("expected_members", "fakes_per_member", "colluders"):
        if getattr(config.policy, key) < 1:
            raise ConfigError(src, f"policy.{key}", "must be at least 1")
    for key in (
        "sla_minutes_critical",
        "sla_minutes_high",
        "intake_retention_days",
        "outbox_retention_days",
        "inbox_retention_days",
        "referral_retention_days",
    ):
        if getattr(config.policy, key) < 0:
            raise ConfigError(src, f"policy.{key}", "must be zero or more")
    if config.policy.sla_check_seconds < 1:
        raise ConfigError(src, "policy.sla_check_seconds", "must be at least 1")
    if config.policy.max_depth < 1:
        raise ConfigError(src, "policy.max_depth", "must be at least 1")
    if not 1 <= config.policy.max_paths <= 3:
        raise ConfigError(src, "policy.max_paths", "must be between 1 and 3")
    if config.web.api_token_days < 1:
        raise ConfigError(src, "web.api_token_days", "must be at least 1")
    if not 1 <= config.web.port <= 65535:
        raise ConfigError(src, "web.port", "must be a TCP port (1-65535)")
    for j, peer in enumerate(config.web.proxy_peers):
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            raise ConfigError(
                src, f"web.proxy_peers[{j}]", "must be an IP address or network (10.0.0.0/8)"
            ) from None
    seen: set[str] = set()
    for i, partner in enumerate(config.partners):
        if partner.handle in seen:
            raise ConfigError(src, f"partners[{i}].handle", f"duplicate handle {partner.handle!r}")
        seen.add(partner.handle)
        for j, member in enumerate(partner.members):
            if not _is_mxid(member):
                raise ConfigError(src, f"partners[{i}].members[{j}]", "must look like @name:server")
    for j, member in enumerate(config.staff.members):
        if not _is_mxid(member):
            raise ConfigError(src, f"staff.members[{j}]", "must look like @name:server")


def check_staff(config: Config) -> None:
    """An empty staff list is an error for a deployment: staff are exactly the listed members.

    Kept out of :func:`load` so tools that never act as staff (outbox, audit, migrate) still
    run on the embedded defaults; ``dsx run``, ``dsx config check`` and ``dsx doctor`` call it.
    """
    if not config.staff.members:
        raise ConfigError(
            config.source,
            "staff.members",
            "is empty: list at least one staff member (@name:server); only listed members "
            "are staff",
        )


def looks_like_user_id(value: str) -> bool:
    """``@name:server``: the shape config checks for every listed user."""
    return _is_mxid(value)


def _is_mxid(value: str) -> bool:
    return value.startswith("@") and ":" in value[2:]


def _slug(account: MatrixConfig) -> str:
    """A folder name from a user id (``@dsx:hs2.example:8448`` -> ``dsx_hs2.example_8448``)."""
    return "".join(c if c.isalnum() or c in "-." else "_" for c in account.user_id.lstrip("@"))


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load and validate the configuration; ``path=None`` means embedded defaults."""
    env = os.environ if env is None else env
    if path is None:
        return parse({}, "<defaults>", env)
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), "(file)", "not found; create one with `dsx init`") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "(syntax)", str(exc)) from None
    return parse(document, str(p), env)


# Exposed for tools that render the settings reference.
SECTION_TYPES: types.MappingProxyType[str, type] = types.MappingProxyType(_SECTIONS)
