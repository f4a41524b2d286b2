"""A camera or microphone that never answers does not leave the call page hanging silently.

A fresh Chromium's first getUserMedia has been seen to stay pending; here an init script makes
it so on purpose. After 10 s (static/js/prejoin.js, CAPTURE_PATIENCE_MS) the pre-join screen
says so and offers to join without the devices, or with audio only; either way the person is in
the call and the others see them.
"""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.test_browser_call import (  # noqa: F401 (fixtures)
    DEADLINE,
    Caller,
    Party,
    eventually,
    everyone_receives,
    new_room,
    party,
    people,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# getUserMedia that never answers: every request, or only those asking for the camera.
NEVER_ANSWERS_JS = """
const realGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
  if (!window.__hangsOnlyForVideo || constraints?.video) {
    window.__mediaRequests.push(constraints);
    return new Promise(() => {});
  }
  return realGetUserMedia(constraints);
};
"""
HANGS_ONLY_FOR_VIDEO_JS = "window.__hangsOnlyForVideo = true;"
STUCK = re.compile(r"not answered for 10 seconds")


def opens_the_room_while_devices_hang(
    party: Party,  # noqa: F811
    username: str,
    slug: str,
    only_video: bool = False,
) -> Caller:
    caller = Caller(party.browser, party.server, username)
    party.callers.append(caller)
    if only_video:
        caller.context.add_init_script(HANGS_ONLY_FOR_VIDEO_JS)
    caller.context.add_init_script(NEVER_ANSWERS_JS)
    caller.log_in()
    caller.page.goto(f"{party.server.url}/rooms/{slug}/")
    return caller


def sees_tile_of(caller: Caller, other: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        return None if other.peer_id in caller.tile_ids() else f"{caller} shows {caller.tile_ids()}, not {other}"

    return check


@pytest.mark.timeout(120)
def test_alice_whose_devices_never_answer_is_told_and_joins_without_them(party: Party) -> None:  # noqa: F811
    slug = new_room(party.server, "hung-devices")
    alice = opens_the_room_while_devices_hang(party, "alice", slug)
    status = alice.page.locator("#prejoin-status")
    expect(status).to_contain_text("Starting the microphone and camera")
    assert alice.media_requests(), "the preview asked for the devices"

    expect(status).to_contain_text(STUCK, timeout=20_000)
    expect(status).to_contain_text("join without them, or with audio only")
    alice.page.get_by_role("button", name="Join without camera and microphone").click()
    alice.wait_in_call()
    bob = party.arrive("bob", slug)

    eventually(sees_tile_of(bob, alice))
    eventually(sees_tile_of(alice, bob))
    assert alice.page.evaluate("window.audioExchange.state") == "in-call"
    assert [caller.protocol_errors() for caller in (alice, bob)] == [[], []]


@pytest.mark.timeout(120)
def test_carol_whose_camera_never_answers_joins_with_audio_only_and_is_heard(party: Party) -> None:  # noqa: F811
    slug = new_room(party.server, "hung-camera")
    carol = opens_the_room_while_devices_hang(party, "carol", slug, only_video=True)
    status = carol.page.locator("#prejoin-status")

    expect(status).to_contain_text(STUCK, timeout=20_000)
    carol.page.get_by_role("button", name="Join with audio only").click()
    carol.wait_in_call()
    assert carol.media_requests()[-1].get("video") in (False, None), carol.media_requests()
    bob = party.arrive("bob", slug)

    eventually(everyone_receives(bob, carol, video=False), timeout=DEADLINE)
    eventually(sees_tile_of(bob, carol))
