"""`dsx doctor` checks every bot account, and names the further ones in its lines."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from coordinator import config as cfg
from dsx.cli.doctor import Status, diagnose
from tests.demo.test_doctor import PICKLE, by_name, deployment

pytestmark = pytest.mark.synapse


async def test_each_account_is_checked(homeserver, tmp_path):
    conf = await deployment(homeserver, tmp_path / "one")
    password = secrets.token_urlsafe(12)
    second = (await homeserver.register(f"doc2-{secrets.token_hex(4)}", password)).user_id
    store = tmp_path / "one" / "store-2"
    account = cfg.MatrixConfig(
        homeserver_url=homeserver.base_url,
        user_id=second,
        password=password,
        device_id="DSXDOCTOR2",
        store_path=str(store),
        pickle_key=PICKLE,
    )
    conf = dataclasses.replace(conf, matrix_accounts=(account,))
    label = f" ({second})"

    # Never started: the second store is missing and it has no cross-signing yet.
    status = by_name(await diagnose(conf))
    assert status["bot login"] is Status.OK and status["cross-signing"] is Status.OK
    assert status["crypto store" + label] is Status.FAIL
    assert status["bot login" + label] is Status.OK
    assert status["cross-signing" + label] is Status.FAIL
    assert {"homeserver" + label, "database", "sealing public key"} <= set(status)

    from partner_bots.cross_signing import CrossSigning
    from partner_bots.session import BotAccount, BotSession

    session = BotSession(BotAccount.from_config(conf.for_account(second)))
    await session.open()
    try:
        await CrossSigning(session).ensure()
    finally:
        await session.close()
    results = await diagnose(conf)  # warnings only: no staff room or partners configured
    assert all(r.status is not Status.FAIL for r in results), [r.line() for r in results]

    wrong = dataclasses.replace(
        conf, matrix_accounts=(dataclasses.replace(account, password="nope", pickle_key="x" * 20),)
    )
    status = by_name(await diagnose(wrong))
    assert status["bot login"] is Status.OK
    assert status["crypto store" + label] is Status.FAIL  # its key does not open its store
    assert status["bot login" + label] is Status.FAIL
