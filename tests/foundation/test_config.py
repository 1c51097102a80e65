"""Configuration: strict validation that names the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator import config as cfg

GOOD = """
data_dir = "/var/lib/dsx"

[matrix]
homeserver_url = "https://matrix.example.org"
user_id = "@dsx:example.org"
password = "correct horse battery staple"
device_id = "DSXBOT"
pickle_key = "a-long-enough-pickle-key"

[database]
url = "postgresql+asyncpg://dsx@db/dsx"

[staff]
room = "!staff:example.org"
members = ["@ana:example.org"]

[[partners]]
handle = "lawcollective"
rooms = ["!law:example.org"]
members = ["@bea:example.org", "@cy:other.example"]

[[partners]]
handle = "globalhelp"
is_global = true

[policy]
capacities = [100, 20, 5, 1]
max_depth = 4
sla_minutes_high = 90
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "dsx.toml"
    p.write_text(text)
    return p


def test_a_complete_file_loads(tmp_path):
    conf = cfg.load(write(tmp_path, GOOD), env={})
    assert conf.matrix.user_id == "@dsx:example.org"
    assert conf.database_url == "postgresql+asyncpg://dsx@db/dsx"
    assert [p.handle for p in conf.partners] == ["lawcollective", "globalhelp"]
    assert conf.partners[0].members == ("@bea:example.org", "@cy:other.example")
    assert conf.partners[1].is_global is True
    assert conf.policy.capacities == (100, 20, 5, 1)
    assert conf.policy.sla_minutes_high == 90
    # Untouched knobs keep their defaults.
    assert conf.policy.sla_minutes_critical == cfg.PolicyConfig().sla_minutes_critical


def test_defaults_put_sqlite_in_the_data_dir(tmp_path):
    conf = cfg.parse({"data_dir": str(tmp_path)}, "<test>", env={})
    assert conf.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'dsx.sqlite3'}"
    assert conf.store_path == tmp_path / "nio-store"


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("[matrix]\npickel_key = 'x'\n", "matrix.pickel_key"),
        ("[matrx]\n", "matrx"),
        ("[policy]\nmax_depth = 'deep'\n", "policy.max_depth"),
        ("[policy]\ncapacities = [5, 0]\n", "policy.capacities"),
        ("[matrix]\nuser_id = 'dsx'\n", "matrix.user_id"),
        ("[matrix]\ndevice_policy = 'yolo'\n", "matrix.device_policy"),
        ("[matrix]\npickle_key = 'short'\n", "matrix.pickle_key"),
        ("[[partners]]\nrooms = []\n", "partners[0].handle"),
        ("[[partners]]\nhandle = 'a'\nmembers = ['bob']\n", "partners[0].members[0]"),
        ("[[partners]]\nhandle = 'a'\n[[partners]]\nhandle = 'a'\n", "partners[1].handle"),
        ("[web]\nport = 70000\n", "web.port"),
        ("[database]\nurl = 'mysql://x'\n", "database.url"),
        ("[staff]\nroom = 5\n", "staff.room"),
    ],
)
def test_bad_keys_are_named_with_the_file(tmp_path, snippet, key):
    path = write(tmp_path, snippet)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={})
    assert err.value.key == key
    assert str(path) in str(err.value)


def test_syntax_errors_name_the_file(tmp_path):
    path = write(tmp_path, "[matrix\n")
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={})
    assert str(path) in str(err.value) and err.value.key == "(syntax)"


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(cfg.ConfigError, match="dsx init"):
        cfg.load(tmp_path / "nope.toml", env={})


def test_environment_overrides_the_file(tmp_path):
    env = {
        "DSX_MATRIX_PASSWORD": "from-the-environment",
        "DSX_DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "DSX_POLICY_CAPACITIES": "9, 3, 1",
        "DSX_POLICY_MAX_DEPTH": "3",
        "DSX_LOG_LEVEL": "DEBUG",
        "DSX_TEST_POSTGRES_URL": "ignored: belongs to the test suite",
    }
    conf = cfg.load(write(tmp_path, GOOD), env=env)
    assert conf.matrix.password == "from-the-environment"
    assert conf.database.url == "sqlite+aiosqlite:///x.db"
    assert conf.policy.capacities == (9, 3, 1)
    assert conf.policy.max_depth == 3
    assert conf.log_level == "DEBUG"


def test_unknown_environment_variables_are_refused():
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse({}, "<test>", env={"DSX_MATRIX_PASWORD": "x"})
    assert err.value.key == "DSX_MATRIX_PASWORD" or "paswor" in err.value.key
    with pytest.raises(cfg.ConfigError):
        cfg.parse({}, "<test>", env={"DSX_NOPE": "x"})


def test_bad_environment_values_are_named():
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse({}, "<test>", env={"DSX_POLICY_MAX_DEPTH": "many"})
    assert err.value.key == "policy.max_depth"


def test_the_shipped_example_is_valid():
    example = Path(__file__).resolve().parents[2] / "deploy" / "dsx.example.toml"
    conf = cfg.load(example, env={})
    assert conf.policy.global_partner == "globalhelp"
    assert any(p.is_global for p in conf.partners)
