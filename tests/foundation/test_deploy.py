"""The deployment files are well-formed and keep the promises the docs make."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

from coordinator.cli.main import COMMANDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_has_the_three_services_wired_together():
    doc = compose()
    services = doc["services"]
    assert set(services) == {"postgres", "synapse", "coordinator"}
    coord = services["coordinator"]
    assert coord["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert coord["depends_on"]["synapse"]["condition"] == "service_healthy"
    assert coord["environment"]["DSX_DATABASE_URL"].startswith("postgresql+asyncpg://")
    # Every named volume a service mounts is declared, and the bot's data persists.
    declared = set(doc["volumes"])
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith("."):
                assert source in declared, source
    assert any(m.startswith("dsx-data:") for m in coord["volumes"])
    for name, service in services.items():
        if "healthcheck" in service:
            assert service["healthcheck"]["test"], name


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


def test_systemd_unit_is_hardened_and_stops_gracefully():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "systemd" / "dsx.service")
    service = unit["Service"]
    assert "dsx run" in service["ExecStart"] and "dsx migrate" in service["ExecStartPre"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["UMask"] == "0077"


def test_homeserver_example_keeps_privacy_settings():
    hs = yaml.safe_load((DEPLOY / "homeserver.example.yaml").read_text())
    assert hs["presence"]["enabled"] is False
    assert hs["url_preview_enabled"] is False
    assert hs["enable_registration"] is False
    assert hs["report_stats"] is False


def test_proxies_keep_no_access_log_and_force_tls():
    nginx = (DEPLOY / "proxy" / "nginx.conf").read_text()
    assert "access_log off;" in nginx and "return 301 https://" in nginx
    assert "Strict-Transport-Security" in nginx
    caddy = (DEPLOY / "proxy" / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8080" in caddy
    assert not re.search(r"^\s*log\b", caddy, flags=re.M)
