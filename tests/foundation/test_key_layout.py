"""The keys live apart: `dsx init --web-user` lets the web role's user read the file, the
public key and the audit key, never the private key; `dsx doctor` warns when it can.

Real system users (made with ``useradd`` when missing, as the operator guide does) and
real reads through ``runuser``, so the modes are tested by the kernel, not by a copy of
its rules.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator import config as cfg
from coordinator.deployment import check_deployment, readable_by
from dsx.cli.main import main

STAFF = "@ana:example.org"
BOT, WEB, STRANGER = "dsxt-bot", "dsxt-web", "dsxt-other"


def _user(name: str, *groups: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        extra = ["--groups", ",".join(groups)] if groups else []
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", *extra, name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


@pytest.fixture
def users() -> tuple[pwd.struct_passwd, pwd.struct_passwd, pwd.struct_passwd]:
    if os.geteuid() != 0:
        pytest.fail("the key layout tests create system users: run them as root")
    bot = _user(BOT)
    return bot, _user(WEB, BOT), _user(STRANGER)


def reads(user: str, path: Path) -> bool:
    """Can ``user`` really open ``path``? Asked of the kernel, through runuser."""
    done = subprocess.run(
        ["runuser", "-u", user, "--", "head", "-c", "1", str(path)], capture_output=True
    )
    return done.returncode == 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def host() -> Iterator[Path]:
    """A folder every user can traverse, like / (pytest's tmp folders are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="dsx-keys-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def init(root: Path, *extra: str) -> tuple[int, Path, Path]:
    root.mkdir(exist_ok=True)
    root.chmod(0o755)
    conf, data = root / "dsx.toml", root / "data"
    code = main(["init", "--config", str(conf), "--data-dir", str(data), "--staff", STAFF, *extra])
    return code, conf, data


def test_init_with_a_web_user_shares_exactly_what_the_web_role_reads(host, users, capsys):
    bot, web, stranger = users
    code, conf_path, data = init(host, "--owner", BOT, "--web-user", WEB)
    assert code == 0, capsys.readouterr().err
    conf = cfg.load(conf_path, env={})
    assert conf.web.user == WEB
    private, public = Path(conf.sealing.private_key_file), Path(conf.sealing.public_key_file)
    audit = Path(conf.audit.key_file)
    assert private.parent != public.parent
    assert (mode(private.parent), mode(private)) == (0o700, 0o600)
    assert (mode(conf_path), mode(audit), mode(data / "keys")) == (0o640, 0o640, 0o750)
    for item in (conf_path, private, public, audit, data / "nio-store"):
        assert item.stat().st_uid == bot.pw_uid, item
    # The kernel agrees: the web user reads the file and the keys it needs, nothing else.
    assert reads(WEB, conf_path) and reads(WEB, public) and reads(WEB, audit)
    assert not reads(WEB, private)
    assert reads(BOT, private)
    assert not reads(STRANGER, conf_path) and not reads(STRANGER, audit)
    # The doctor's reading of the modes matches the kernel's answers.
    for who, entry in ((WEB, web), (BOT, bot), (STRANGER, stranger)):
        for item in (conf_path, public, audit, private):
            assert readable_by(item, entry) == reads(who, item), (who, item)
    assert not [p for p in check_deployment(conf) if p.key == "web.user"]
    out = capsys.readouterr().out
    assert str(data / "private") in out and WEB in out


def test_init_refuses_a_web_user_outside_the_owners_group_and_writes_nothing(host, users, capsys):
    code, conf_path, data = init(host, "--owner", BOT, "--web-user", STRANGER)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "not in the owner's group" in err and len(err.splitlines()) == 1
    assert not conf_path.exists() and not data.exists()
    code, conf_path, data = init(host / "again", "--owner", BOT, "--web-user", BOT)
    assert code == 2 and "user of its own" in capsys.readouterr().err
    assert not conf_path.exists() and not data.exists()


@pytest.mark.parametrize("layout", ["same user", "key in the shared folder"])
def test_doctor_warns_when_the_web_user_can_read_the_private_key(host, users, capsys, layout):
    del users  # made, with the web user in the bot's group
    code, conf_path, data = init(host, "--owner", BOT, "--web-user", WEB)
    assert code == 0
    conf = cfg.load(conf_path, env={})
    private = Path(conf.sealing.private_key_file)
    if layout == "same user":  # both roles run as the bot's user
        text = conf_path.read_text().replace(f'user = "{WEB}"', f'user = "{BOT}"')
        conf_path.write_text(text)
    else:  # the private key handed to the web role's group, beside the public key
        moved = data / "keys" / "sealing.key"
        private.rename(moved)
        moved.chmod(0o640)
        conf_path.write_text(conf_path.read_text().replace(str(private), str(moved)))
        private = moved
    who = BOT if layout == "same user" else WEB
    assert reads(who, private)  # the bad layout is real
    problems = [p for p in check_deployment(cfg.load(conf_path, env={})) if p.key == "web.user"]
    assert len(problems) == 1 and "can read the private key" in problems[0].text, problems
    capsys.readouterr()
    main(["doctor", "--config", str(conf_path)])
    out = capsys.readouterr().out
    assert f"! settings: web.user: the web role's user {who} can read the private key" in out, out


def test_no_web_user_no_warning_and_owner_only_modes(host, capsys):
    """The one-process layout: nothing is shared, nothing to warn about."""
    code, conf_path, data = init(host)
    assert code == 0
    conf = cfg.load(conf_path, env={})
    assert mode(conf_path) == 0o600 and mode(Path(conf.audit.key_file)) == 0o600
    assert mode(data) == 0o700 and mode(data / "keys") == 0o700
    assert not [p for p in check_deployment(conf) if p.key == "web.user"]


def test_a_public_key_path_that_names_the_private_key_is_refused(host):
    """Both halves are 32 bytes of base64; the marks init writes tell them apart, so the
    web role never seals with (or holds) the private key by a slip of the path."""
    from coordinator.sealing import SealingError, load_private_key, load_public_key

    code, conf_path, _data = init(host)
    assert code == 0
    conf = cfg.load(conf_path, env={})
    private = conf.sealing.private_key_file
    with pytest.raises(SealingError, match="this is a private key"):
        load_public_key(private)
    sealer = load_public_key(conf.sealing.public_key_file)
    assert load_private_key(private).key_ids == (sealer.key_id,)
    same = cfg.parse(
        {"sealing": {"public_key_file": private, "private_key_file": private}}, "<t>", env={}
    )
    problems = [p for p in check_deployment(same) if p.key == "sealing.public_key_file"]
    assert problems and "names the private key file" in problems[0].text
    # A copy elsewhere is caught by its mark: doctor's key line fails.
    copy = host / "copy.pub"
    copy.write_bytes(Path(private).read_bytes())
    text = conf_path.read_text().replace(conf.sealing.public_key_file, str(copy))
    conf_path.write_text(text)
    from dsx.cli.doctor import check_sealing_keys

    lines = check_sealing_keys(cfg.load(conf_path, env={}))
    public_line = next(r for r in lines if r.name == "sealing public key")
    assert public_line.status.name == "FAIL", public_line
