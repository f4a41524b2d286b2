"""Frames an attacker would try: each gets an `error` and the connection goes on relaying."""

import pytest

from accounts.models import User
from rooms.models import Room
from signaling.tests.conftest import Connect, enter
from signaling.tests.test_relay import SDP

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 5000 + "]" * 5000, "too_deep"),  # json.loads raised RecursionError: a 1011 close
        ("[" * 5000, "too_deep"),
        ('{"a":' * 3000 + "1" + "}" * 3000, "too_deep"),
        ('{"type": "ice", "to": "PEER", "candidate": ' + '{"candidate":' * 2000 + "1" + "}" * 2001, "too_deep"),
        ('{"type": "chat", "text": "' + "[{" * 400 + '"}', "chat"),
        ('{"type": "chat", "text": "\\ud800"}', "bad_json"),
        ('{"type": "offer", "to": "PEER", "sdp": "v=0 \\udfff"}', "bad_json"),
    ],
)
async def test_mallory_s_nested_and_malformed_frames_are_answered_and_bob_still_reaches_alice(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room, frame: str, code: str
):
    alice_ws = await enter(connect, alice)
    mallory_ws = await enter(connect, mallory)
    bob_ws = await enter(connect, bob)
    for _ in range(2):
        await alice_ws.receive()  # peer-joined mallory, bob
    await mallory_ws.receive()  # peer-joined bob

    await mallory_ws.send(frame.replace("PEER", alice_ws.peer_id))

    if code == "chat":  # brackets inside a string are text, not nesting
        for ws in (alice_ws, mallory_ws, bob_ws):
            line = await ws.receive()
            assert line["type"] == "chat" and line["text"].startswith("[{[{"), line
    else:
        await mallory_ws.expect_error(code)
        assert await alice_ws.ws.receive_nothing()
    await mallory_ws.send({"type": "ping"})
    assert (await mallory_ws.receive())["type"] == "pong"
    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    assert (await alice_ws.receive())["from"] == bob_ws.peer_id
