"""The deployment files are well-formed and keep the promises the docs make."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import yaml

from dsx.cli.main import COMMANDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_has_the_services_wired_together():
    doc = compose()
    services = doc["services"]
    roles = {"dsx-bot", "dsx-web"}
    assert set(services) == {"postgres", "synapse-init", "synapse", "dsx-init", *roles}
    coord = services["dsx-bot"]
    assert coord["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert coord["depends_on"]["synapse"]["condition"] == "service_healthy"
    for role in ("dsx-bot", "dsx-web"):
        assert services[role]["depends_on"]["dsx-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["synapse"]["depends_on"]["synapse-init"]["condition"] == (
        "service_completed_successfully"
    )
    assert coord["environment"]["DSX_DATABASE_URL"].startswith("postgresql+asyncpg://")
    # Every named volume a service mounts is declared, and the bot's data persists.
    declared = set(doc["volumes"])
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith("."):
                assert source in declared, source
    assert any(m.startswith("dsx-data:") for m in coord["volumes"])
    for name in ("postgres", "synapse", "dsx-bot", "dsx-web"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("dsx-bot", "dsx-web"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert "/healthz" in probe or "/readyz" in probe


VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


def env_example() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def test_compose_takes_every_variable_from_the_one_env_file():
    """Each ${VAR} is in deploy/env.example; no env_file, so `environment:` never
    silently overrides a value from a second place."""
    text = (DEPLOY / "compose.yaml").read_text()
    used = set(VARIABLE.findall(text))
    assert used and used <= set(env_example()), used - set(env_example())
    for name, service in compose()["services"].items():
        assert "env_file" not in service, name
    # None of them is a DSX_ name: the coordinator would take it for a configuration key.
    assert not any(v.startswith("DSX_") for v in env_example())


def test_compose_mounts_files_that_exist_and_pins_its_images():
    for name, service in compose()["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        if "image" in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), image


def test_synapse_gets_every_file_its_configuration_names():
    """log.config and the signing key are mounted or generated before Synapse starts, and
    the database, user and password it is configured with are the ones PostgreSQL makes."""
    services = compose()["services"]
    hs = yaml.safe_load((DEPLOY / "homeserver.example.yaml").read_text())
    init_script = (DEPLOY / "compose" / "synapse-init.sh").read_text()
    mounted = {m.split(":")[1] for m in services["synapse"]["volumes"] if m.startswith(".")}
    for key in ("log_config", "signing_key_path"):
        path = hs[key]
        assert path in mounted or f"[ ! -f {path} ]" in init_script, path
    assert "--generate-keys" in init_script
    entry = services["synapse"]["entrypoint"]
    configs = [entry[i + 1] for i, arg in enumerate(entry) if arg == "--config-path"]
    assert configs == ["/data/homeserver.yaml", "/data/secrets.yaml"]
    assert services["synapse"]["user"] == "991:991"  # never root, and owns what init made
    assert init_script.count("chown 991:991") == 3
    assert "cat > /data/secrets.yaml" in init_script
    database = hs["database"]["args"]
    sql = (DEPLOY / "compose" / "postgres-init.sh").read_text()
    assert f"CREATE ROLE {database['user']} LOGIN PASSWORD" in sql
    assert f"CREATE DATABASE {database['database']} OWNER {database['user']}" in sql
    assert "$SYNAPSE_DB_PASSWORD" in init_script
    assert "SYNAPSE_DB_PASSWORD" in services["synapse-init"]["environment"]
    assert {"COORDINATOR_DB_PASSWORD", "SYNAPSE_DB_PASSWORD"} <= set(
        services["postgres"]["environment"]
    )
    pg_mounts = services["postgres"]["volumes"]
    assert any(m.endswith("/docker-entrypoint-initdb.d/10-dsx.sh:ro") for m in pg_mounts)


def test_the_coordinator_database_url_and_overrides_are_valid():
    from coordinator import config as cfg

    services = compose()["services"]
    coord = services["dsx-bot"]
    env = {k: VARIABLE.sub("secret", str(v)) for k, v in coord["environment"].items()}
    url = env["DSX_DATABASE_URL"]
    assert url == "postgresql+asyncpg://dsx:secret@postgres:5432/dsx"
    sql = (DEPLOY / "compose" / "postgres-init.sh").read_text()
    assert "CREATE ROLE dsx LOGIN PASSWORD" in sql and "CREATE DATABASE dsx OWNER dsx" in sql
    conf = cfg.parse({}, "compose", env)  # an unknown DSX_ key would raise here
    assert conf.matrix.password == "secret" and conf.metrics.port == 9464
    web_env = {
        k: VARIABLE.sub("secret", str(v)) for k, v in services["dsx-web"]["environment"].items()
    }
    assert web_env["DSX_DATABASE_URL"] == url
    assert cfg.parse({}, "compose", web_env).web.bind == "0.0.0.0"
    init = " ".join(services["dsx-init"]["entrypoint"])
    assert "test -f /etc/dsx/dsx.toml ||" in init and "dsx init --owner dsx" in init
    for role in ("dsx-bot", "dsx-web"):
        assert "./config:/etc/dsx:ro" in services[role]["volumes"]


def test_compose_keeps_the_keys_apart():
    """The web service gets the public key and the audit key (dsx-keys, read-only), never
    the volume with the private key and the crypto store, nor the bot's password; its
    user is dsx-web, whom init (--web-user) lets read exactly those."""
    services = compose()["services"]
    bot, web, init = services["dsx-bot"], services["dsx-web"], services["dsx-init"]
    assert "--role bot" in " ".join(bot["command"])
    assert web["command"][:4] == ["dsx", "run", "--role", "web"]
    assert web["user"] == "dsx-web" and "--web-user dsx-web" in " ".join(init["entrypoint"])
    assert web["volumes"] == ["./config:/etc/dsx:ro", "dsx-keys:/var/lib/dsx/keys:ro"]
    assert (
        "dsx-data:/var/lib/dsx" in bot["volumes"]
        and "dsx-keys:/var/lib/dsx/keys" in (bot["volumes"])
    )
    # init writes the public and audit keys under the keys mount, the private key outside.
    assert "--data-dir /var/lib/dsx" in " ".join(init["entrypoint"])
    assert "dsx-keys:/var/lib/dsx/keys" in init["volumes"]
    assert not any(k.startswith("DSX_MATRIX") for k in web["environment"])
    assert "ports" not in bot and web["ports"] == ["127.0.0.1:8080:8080"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "useradd --system --groups=dsx --no-create-home dsx-web" in dockerfile


def test_compose_publishes_ports_on_loopback_only():
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_dockerfile_copies_what_exists_and_runs_known_commands():
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (DEPLOY.parent / source).exists(), source
    for command in re.findall(r"dsx (\w+)", text):
        assert command in COMMANDS
    # Every package the project installs is in the image (the CLI lives in dsx/).
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"COPY {pattern.rstrip('*')} " in text, pattern
    # The version is passed in (no git history in the build context's copy).
    assert "SETUPTOOLS_SCM_PRETEND_VERSION" in text and "ARG DSX_VERSION" in text


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name)
    return parser["Service"]


def test_systemd_units_are_hardened_and_stop_gracefully():
    bot, web = unit("dsx-bot.service"), unit("dsx-web.service")
    assert "dsx run --role bot" in bot["ExecStart"] and "dsx migrate" in bot["ExecStartPre"]
    assert "dsx run --role web" in web["ExecStart"]
    for service in (bot, web):
        assert service["KillSignal"] == "SIGTERM"
        assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
        assert service["UMask"] == "0077"


def test_the_web_unit_cannot_reach_the_bots_secrets():
    """Another user, none of the bot's environment, and the private key's folder, the
    crypto store and the secrets file hidden from its view of the file system."""
    import tomllib

    bot, web = unit("dsx-bot.service"), unit("dsx-web.service")
    assert web["User"] != bot["User"] and web["Group"] != bot["Group"]
    assert web["SupplementaryGroups"] == bot["Group"]  # reads keys/ and dsx.toml by group
    assert bot["EnvironmentFile"].lstrip("-") == "/etc/dsx/dsx.env"
    assert web["EnvironmentFile"].lstrip("-") != bot["EnvironmentFile"].lstrip("-")
    hidden = [p.lstrip("-") for p in web["InaccessiblePaths"].split()]
    example = tomllib.loads((DEPLOY / "dsx.example.toml").read_text())
    private = Path(example["sealing"]["private_key_file"])
    state = Path("/var/lib") / bot["StateDirectory"]
    assert private.parent in {Path(h) for h in hidden}, hidden
    assert private.parent == state / "private"  # where `dsx init` puts it
    assert str(state / "nio-store") in hidden and "/etc/dsx/dsx.env" in hidden
    assert web["ReadOnlyPaths"] == str(state) and "StateDirectory" not in web
    assert "ReadWritePaths" not in web
    assert example["web"]["user"] == web["User"]


def test_systemd_reads_both_units_without_complaint(tmp_path):
    """systemd's own parser: every key known, every value accepted."""
    import shutil
    import subprocess

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is not installed"
    names = ("dsx-bot.service", "dsx-web.service")
    for name in names:  # the binary must exist for verify; the rest is as shipped
        text = (DEPLOY / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/dsx/.venv/bin/dsx", "/bin/true"))
    done = subprocess.run(
        [analyze, "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_homeserver_example_keeps_privacy_settings():
    hs = yaml.safe_load((DEPLOY / "homeserver.example.yaml").read_text())
    assert hs["presence"]["enabled"] is False
    assert hs["url_preview_enabled"] is False
    assert hs["enable_registration"] is False
    assert hs["report_stats"] is False


def test_homeserver_example_honours_retention_and_erases_redactions():
    """docs/security.md: Synapse purges engagement rooms' history past their policy and
    erases a redacted event's content within a day."""
    from partner_bots.workflow.rooms import HISTORY_DAYS

    hs = yaml.safe_load((DEPLOY / "homeserver.example.yaml").read_text())
    assert hs["retention"]["enabled"] is True
    assert int(hs["retention"]["allowed_lifetime_max"].removesuffix("d")) >= HISTORY_DAYS
    assert hs["redaction_retention_period"] == "1d"
    security = (DEPLOY.parent / "docs" / "security.md").read_text("utf-8")
    assert f"(`m.room.retention`, {HISTORY_DAYS} days)" in security
    assert "`redaction_retention_period` (a day in the example configuration)" in security


def test_proxies_keep_no_access_log_and_force_tls():
    nginx = (DEPLOY / "proxy" / "nginx.conf").read_text()
    assert "access_log off;" in nginx and "return 301 https://" in nginx
    assert "Strict-Transport-Security" in nginx
    caddy = (DEPLOY / "proxy" / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8080" in caddy
    assert not re.search(r"^\s*log\b", caddy, flags=re.M)


def test_synapse_init_makes_a_config_synapse_accepts(tmp_path):
    """deploy/compose/synapse-init.sh run with the real Synapse (paths under a temporary
    /data): the merged homeserver.example.yaml + secrets.yaml loads, the signing key is
    generated, and a second run replaces nothing."""
    import os
    import shutil
    import subprocess
    import sys

    from partner_bots.homeserver.synapse import synapse_available
    from tests.harness.components import require

    require(synapse_available(), "matrix-synapse is not installed (pip install -e '.[homeserver]')")
    require(os.geteuid() == 0, "the script hands its files to the synapse user (chown)")
    data = tmp_path / "data"
    data.mkdir()

    def moved(path: Path) -> str:
        return path.read_text().replace("/data", str(data))

    (data / "homeserver.yaml").write_text(moved(DEPLOY / "homeserver.example.yaml"))
    shutil.copy(DEPLOY / "compose" / "synapse-log.config", data / "log.config")
    script = tmp_path / "synapse-init.sh"
    script.write_text(moved(DEPLOY / "compose" / "synapse-init.sh"))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "SYNAPSE_DB_PASSWORD": "db-pw-from-env",
    }

    def run() -> None:
        done = subprocess.run(
            ["sh", str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    run()
    secrets_file, key = data / "secrets.yaml", data / "signing.key"
    merged = yaml.safe_load(secrets_file.read_text())
    assert merged["database"]["args"]["password"] == "db-pw-from-env"
    assert (
        len(
            {
                merged[k]
                for k in ("registration_shared_secret", "macaroon_secret_key", "form_secret")
            }
        )
        == 3
    )
    assert key.read_text().startswith("ed25519 ")
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    before = (secrets_file.read_bytes(), key.read_bytes())
    run()
    assert (secrets_file.read_bytes(), key.read_bytes()) == before


async def test_postgres_init_makes_both_roles_and_databases():
    """deploy/compose/postgres-init.sh through psql against the real PostgreSQL (role and
    database names made unique for the test, then dropped)."""
    import asyncio
    import os
    import secrets

    import asyncpg

    from tests.conftest import POSTGRES_URL
    from tests.harness.components import require

    require(shutil_which("psql"), "psql is not installed")
    suffix = secrets.token_hex(3)
    names = {"dsx": f"dsx_ci_{suffix}", "synapse": f"synapse_ci_{suffix}"}
    text = (DEPLOY / "compose" / "postgres-init.sh").read_text()
    for old, new in names.items():
        text = re.sub(rf"(ROLE|DATABASE|OWNER) {old}\b", rf"\1 {new}", text)
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "COORDINATOR_DB_PASSWORD": "pw-one",
        "SYNAPSE_DB_PASSWORD": "pw-two",
    }
    proc = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        text,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        assert proc.returncode == 0, err.decode()
        for name in names.values():
            row = await conn.fetchrow(
                "SELECT r.rolcanlogin, r.rolpassword IS NOT NULL AS pw, d.datcollate "
                "FROM pg_authid r JOIN pg_database d ON d.datdba = r.oid WHERE d.datname = $1",
                name,
            )
            assert row is not None and row["rolcanlogin"] and row["pw"], name
        synapse_db = await conn.fetchval(
            "SELECT datcollate FROM pg_database WHERE datname = $1", names["synapse"]
        )
        assert synapse_db == "C"
    finally:
        for name in names.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        await conn.close()


def shutil_which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None
