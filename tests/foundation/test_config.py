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


def test_policy_in_operator_terms_reaches_the_trust_graph():
    from coordinator.usecases.trust import to_policy

    conf = cfg.parse(
        {"policy": {"expected_members": 900, "fakes_per_member": 5, "colluders": 3}},
        "<test>",
        env={},
    )
    policy = to_policy(conf.policy)
    assert not policy.scheduled  # no capacities given: the core rule
    assert (policy.flat_capacity, policy.core_vouches, policy.bound(3)) == (30, 4, 15)


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
        ("[web]\nproxy_peers = ['127.0.0.1', 'proxy.internal']\n", "web.proxy_peers[1]"),
        ("[database]\nurl = 'mysql://x'\n", "database.url"),
        ("[staff]\nroom = 5\n", "staff.room"),
        ("[policy]\nsla_minutes_critical = -5\n", "policy.sla_minutes_critical"),
        ("[policy]\nintake_retention_days = -1\n", "policy.intake_retention_days"),
        ("[policy]\nsla_check_seconds = 0\n", "policy.sla_check_seconds"),
        ("[policy]\ncolluders = 0\n", "policy.colluders"),
        ("[policy]\nfakes_per_member = -1\n", "policy.fakes_per_member"),
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


# -- several bot accounts ([[matrix_accounts]]) ------------------------------------------

ACCOUNTS = """
data_dir = "/var/lib/dsx"

[matrix]
homeserver_url = "https://matrix.example.org"
user_id = "@dsx:example.org"
pickle_key = "a-long-enough-pickle-key"

[[matrix_accounts]]
homeserver_url = "https://matrix.other.example:8448"
user_id = "@dsx:other.example:8448"
device_id = "DSXSECOND"

[[matrix_accounts]]
homeserver_url = "https://hs3.example"
user_id = "@dsx:hs3.example"
store_path = "/srv/dsx/third-store"
pickle_key = "the-third-accounts-own-key"

[staff]
room = "!staff:example.org"

[[partners]]
handle = "lawcollective"
rooms = ["!law:example.org"]

[[partners]]
handle = "faraway"
rooms = ["!far:other.example:8448"]
account = "@dsx:other.example:8448"

[[partners]]
handle = "explicit"
rooms = ["!x:example.org"]
account = "@dsx:example.org"
"""


def test_further_accounts_load_with_their_own_stores(tmp_path):
    conf = cfg.load(write(tmp_path, ACCOUNTS), env={"DSX_MATRIX_ACCOUNTS_0_PASSWORD": "secret"})
    primary, second, third = conf.accounts
    assert primary.user_id == "@dsx:example.org"
    assert primary.store_path == "/var/lib/dsx/nio-store"
    # Without its own store path and pickle key, an account gets a folder named after it
    # and the primary's key; the password came from the environment.
    assert second.store_path == "/var/lib/dsx/nio-store-dsx_other.example_8448"
    assert second.pickle_key == "a-long-enough-pickle-key"
    assert second.password == "secret" and second.device_id == "DSXSECOND"
    assert third.store_path == "/srv/dsx/third-store"
    assert third.pickle_key == "the-third-accounts-own-key"
    assert conf.account_of_partner("lawcollective") == "@dsx:example.org"
    assert conf.account_of_partner("faraway") == "@dsx:other.example:8448"
    assert conf.account_of_partner("explicit") == "@dsx:example.org"
    assert conf.account_of_partner("added-by-command") == "@dsx:example.org"
    view = conf.for_account("@dsx:other.example:8448")
    assert view.matrix.homeserver_url == "https://matrix.other.example:8448"
    assert view.store_path == Path("/var/lib/dsx/nio-store-dsx_other.example_8448")
    assert view.accounts == (view.matrix,)
    with pytest.raises(KeyError):
        conf.for_account("@nobody:example.org")


def test_a_single_account_is_the_primary_alone(tmp_path):
    conf = cfg.load(write(tmp_path, GOOD), env={})
    assert [a.user_id for a in conf.accounts] == ["@dsx:example.org"]
    assert conf.for_account("@dsx:example.org").matrix == conf.accounts[0]


SECOND = "[[matrix_accounts]]\nuser_id = '@b:hs2'\n"


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("matrix_accounts = 5\n", "matrix_accounts"),
        ("matrix_accounts = [5]\n", "matrix_accounts[0]"),
        ("[[matrix_accounts]]\nhomeserver_url = 'https://hs2'\n", "matrix_accounts[0].user_id"),
        ("[[matrix_accounts]]\nuser_id = 'b'\n", "matrix_accounts[0].user_id"),
        (SECOND + "passwrd = 'x'\n", "matrix_accounts[0].passwrd"),
        (SECOND + "homeserver_url = 'hs2'\n", "matrix_accounts[0].homeserver_url"),
        (SECOND + "pickle_key = 'short'\n", "matrix_accounts[0].pickle_key"),
        (SECOND + "device_policy = 'yolo'\n", "matrix_accounts[0].device_policy"),
        # The same user as the primary, or twice among the others.
        ("[[matrix_accounts]]\nuser_id = '@a:hs1'\n", "matrix_accounts[0].user_id"),
        (SECOND + SECOND, "matrix_accounts[1].user_id"),
        # Two accounts in one crypto store would overwrite each other's keys.
        (SECOND + "store_path = '/d/nio-store'\n", "matrix_accounts[0].store_path"),
        (
            SECOND + "store_path = '/d/s'\n[[matrix_accounts]]\nuser_id = '@c:hs3'\n"
            "store_path = '/d/s'\n",
            "matrix_accounts[1].store_path",
        ),
        ("[[partners]]\nhandle = 'p'\naccount = '@nobody:hs9'\n", "partners[0].account"),
    ],
)
def test_bad_accounts_are_named_with_the_file(tmp_path, snippet, key):
    primary = "" if snippet.startswith("matrix_accounts =") else "[matrix]\nuser_id = '@a:hs1'\n"
    path = write(tmp_path, "data_dir = '/d'\n" + primary + snippet)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={})
    assert err.value.key == key
    assert str(path) in str(err.value)


def test_account_environment_overrides_need_a_table_in_the_file(tmp_path):
    path = write(tmp_path, "[matrix]\nuser_id = '@a:hs1'\n" + SECOND)
    conf = cfg.load(path, env={"DSX_MATRIX_ACCOUNTS_0_ACCESS_TOKEN": "tok"})
    assert conf.matrix_accounts[0].access_token == "tok"
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={"DSX_MATRIX_ACCOUNTS_1_PASSWORD": "x"})
    assert err.value.key == "DSX_MATRIX_ACCOUNTS_1_PASSWORD"
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={"DSX_MATRIX_ACCOUNTS_X_PASSWORD": "x"})
    assert err.value.key == "DSX_MATRIX_ACCOUNTS_X_PASSWORD"
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path, env={"DSX_MATRIX_ACCOUNTS_0_PASWORD": "x"})
    assert err.value.key == "matrix_accounts[0].pasword"


def test_the_examples_commented_second_account_is_valid_when_uncommented(tmp_path):
    example = Path(__file__).resolve().parents[2] / "deploy" / "dsx.example.toml"
    lines = example.read_text().splitlines()
    start = lines.index("# [[matrix_accounts]]")
    block = range(start, lines.index("", start))
    text = "\n".join(
        line[2:] if i in block or line.startswith("# account = ") else line
        for i, line in enumerate(lines)
    )
    conf = cfg.load(write(tmp_path, text), env={})
    assert [a.user_id for a in conf.accounts] == ["@dsx:example.org", "@dsx:other.example"]
    assert conf.account_of_partner("globalhelp") == "@dsx:other.example"
    assert conf.account_of_partner("lawcollective") == "@dsx:example.org"
