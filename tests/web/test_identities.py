"""The dashboard's Identities page and its confirm action, on the web app alone: signed-in
staff only, CSRF-checked, and refused (409) without the bot, whose store holds the pins.
With the running bot: tests/workflow/test_whose_words.py."""

from __future__ import annotations

import sqlalchemy as sa

from coordinator.store.schema import audit_log


async def test_identities_page_and_action_without_the_bot(web):
    signed_out = await web.client.get("/dashboard/identities", allow_redirects=False)
    assert signed_out.status == 401
    await web.sign_in()
    page = await (await web.client.get("/dashboard/identities")).text()
    assert "No identity change is waiting." in page
    token = await web.csrf("/dashboard/identities")
    forged = await web.client.post(
        "/dashboard/actions/confirm-identity", data={"csrf_token": "x", "user": "@a:hs"}
    )
    assert forged.status == 403
    refused = await web.client.post(
        "/dashboard/actions/confirm-identity", data={"csrf_token": token, "user": "@a:hs"}
    )
    assert refused.status == 409 and "bot_not_running" in await refused.text()
    async with web.coord.engine.connect() as conn:
        confirmed = await conn.execute(
            sa.select(audit_log).where(audit_log.c.action == "identity.confirmed")
        )
        assert confirmed.first() is None  # nothing happened, nothing recorded
