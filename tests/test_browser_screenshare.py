"""Screen sharing between real browsers. Headless Chromium with `--use-fake-ui-for-media-stream`
and `--use-fake-device-for-media-stream` answers getDisplayMedia with a synthetic screen
(`screen:-3:0`, 1280x720), so the real button and capture path are tested, not a stand-in.

alice shares; bob watches; carol arrives while alice is sharing.
"""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import (  # noqa: F401 - fixtures
    Caller,
    Party,
    eventually,
    everyone_receives,
    frames_keep_coming,
    new_room,
    party,
    people,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAGE_JS = """() => {
  const stage = document.querySelector("#stage");
  const video = stage.querySelector("video");
  return { hidden: stage.hidden, peer: stage.dataset.peerId, width: video.videoWidth, time: video.currentTime,
           caption: stage.querySelector("figcaption").textContent };
}"""

# What the browser does when the person clicks its own "Stop sharing" bar: the track ends.
BROWSER_STOPS_SHARING_JS = """() => {
  const track = [...window.audioExchange.peerConnections().values()]
    .flatMap((pc) => pc.getSenders())
    .map((sender) => sender.track)
    .find((track) => track?.readyState === "live" && track.label.startsWith("screen"));
  track.stop();
  track.dispatchEvent(new Event("ended"));
}"""


def stage_plays(viewer: Caller, sharer: Caller) -> Callable[[], str | None]:
    """`viewer` shows `sharer`'s screen on the stage, and its picture moves on."""
    first_time: list[float] = []

    def check() -> str | None:
        stage = viewer.page.evaluate(STAGE_JS)
        if stage["hidden"] or stage["peer"] != sharer.peer_id or stage["width"] <= 0:
            return f"{viewer}'s stage: {stage}"
        if not first_time:
            first_time.append(stage["time"])
        if stage["time"] <= first_time[0]:
            return f"{viewer}'s stage video is not advancing: {stage}"
        return None

    return check


def stage_hidden(*viewers: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        for viewer in viewers:
            stage = viewer.page.evaluate(STAGE_JS)
            if not stage["hidden"]:
                return f"{viewer} still shows a stage: {stage}"
        return None

    return check


@pytest.mark.timeout(240)
def test_a_shared_screen_shows_large_for_the_others_and_stopping_restores_the_cameras(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "share")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    expect(bob.page.locator("#stage")).to_be_hidden()

    share = alice.page.get_by_role("button", name="Share screen")
    share.click()
    expect(alice.page.get_by_role("button", name="Stop sharing")).to_have_attribute("aria-pressed", "true")
    expect(alice.page.locator("#presenting-bar")).to_contain_text("You are presenting your screen")
    expect(bob.page.locator("#presenting-bar")).to_be_hidden()
    eventually(stage_plays(bob, alice))
    expect(bob.page.locator("#stage figcaption")).to_have_text("Alice A. is sharing their screen")
    assert bob.page.evaluate(STAGE_JS)["width"] >= 640, "the screen arrives at screen size, not a thumbnail"
    stage_box, tile_box = (
        bob.page.locator("#stage").bounding_box(),
        bob.page.locator("#grid .tile").first.bounding_box(),
    )
    assert stage_box and tile_box and stage_box["width"] > 2 * tile_box["width"], "the screen is shown large"

    carol = party.arrive("carol", slug)
    eventually(stage_plays(carol, alice))
    eventually(everyone_receives(alice, bob, carol))

    alice.page.get_by_role("button", name="Stop presenting").click()
    expect(alice.page.locator("#presenting-bar")).to_be_hidden()
    eventually(stage_hidden(bob, carol))
    expect(bob.page.locator(f'.tile[data-peer-id="{alice.peer_id}"]')).to_have_class(re.compile(r"\bhas-video\b"))
    eventually(frames_keep_coming(alice, bob, carol))

    share.click()
    eventually(stage_plays(bob, alice))
    alice.page.evaluate(BROWSER_STOPS_SHARING_JS)
    expect(alice.page.get_by_role("button", name="Share screen")).to_have_attribute("aria-pressed", "false")
    eventually(stage_hidden(bob, carol))
    eventually(frames_keep_coming(alice, bob, carol))
    assert all(caller.protocol_errors() == [] for caller in (alice, bob, carol))
