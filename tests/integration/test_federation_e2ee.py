"""The harness works: two users on two federating Synapse servers talk end-to-end encrypted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from partner_bots.homeserver.user_client import UserClient

pytestmark = pytest.mark.synapse


async def test_homeservers_federate_over_tls_on_loopback(federation):
    hs1, hs2 = federation
    assert hs1.server_name != hs2.server_name
    assert hs1.server_name.startswith("localhost:") and hs2.server_name.startswith("localhost:")
    assert hs1.running and hs2.running


async def test_e2ee_messages_cross_the_federation_both_ways(federation, tmp_path: Path):
    hs1, hs2 = federation
    alice = await UserClient.create(hs1, tmp_path, "alice")
    bob = await UserClient.create(hs2, tmp_path, "bob")
    try:
        room_id = await alice.create_encrypted_room(invite=[bob.user_id])
        await bob.accept_invite(room_id)
        await alice.wait_for_member(room_id, bob.user_id)
        assert alice.client.rooms[room_id].encrypted

        hello = f"hello from the first server {uuid.uuid4().hex}"
        await alice.send_text(room_id, hello)
        await bob.sync_until(lambda: hello in bob.texts(room_id, alice.user_id), what="hello")

        reply = f"and back from the second {uuid.uuid4().hex}"
        await bob.send_text(room_id, reply)
        await alice.sync_until(lambda: reply in alice.texts(room_id, bob.user_id), what="reply")

        # What was received was really encrypted on the wire: the server only has ciphertext.
        received = [e for r, e in bob.messages if r == room_id and e.body == hello]
        assert received and received[0].decrypted
        assert not bob.undecrypted and not alice.undecrypted
    finally:
        await alice.close()
        await bob.close()


async def test_registered_users_carry_the_server_name(homeserver):
    user = await homeserver.register(f"carol-{uuid.uuid4().hex[:6]}")
    assert user.user_id.endswith(":" + homeserver.server_name)
    assert user.access_token and user.device_id
