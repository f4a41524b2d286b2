"""Audio-first controls seen from real browsers: who speaks, raised hands, mute flags,
per-person volume and push-to-talk (the call on a phone: tests/test_browser_phone.py).

Chromium's fake microphone beeps, so whoever is unmuted has a non-zero audio level.
alice and bob talk; carol arrives late.
"""

import re

import pytest
from playwright.sync_api import Locator, expect

from tests.live_server import AppServer
from tests.test_browser_call import (  # noqa: F401 - fixtures
    Caller,
    Party,
    eventually,
    everyone_receives,
    new_room,
    party,
    people,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPEAKING = re.compile(r"\bspeaking\b")


def tile_of(viewer: Caller, other: Caller) -> Locator:
    return viewer.page.locator(f'#grid .tile[data-peer-id="{other.peer_id}"]')


def person_of(viewer: Caller, other: Caller) -> Locator:
    return viewer.page.locator(f'#people-list li[data-peer-id="{other.peer_id}"]')


@pytest.mark.timeout(240)
def test_speaker_highlight_hands_and_mute_flags_reach_the_others_and_late_joiners(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "talk")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))

    expect(tile_of(bob, alice)).to_have_class(SPEAKING, timeout=30_000)
    alice.page.get_by_role("button", name="Mute", exact=True).click()
    expect(tile_of(bob, alice).locator(".muted-flag")).to_be_visible()
    expect(tile_of(bob, alice)).not_to_have_class(SPEAKING, timeout=30_000)

    alice.page.get_by_role("button", name="Raise hand").click()
    expect(tile_of(bob, alice).locator(".hand-flag")).to_be_visible()
    expect(person_of(bob, alice)).to_contain_text("hand raised")
    alice.page.get_by_role("button", name="Camera off").click()
    expect(tile_of(bob, alice).locator(".camera-flag")).to_be_visible()

    carol = party.arrive("carol", slug)
    expect(tile_of(carol, alice).locator(".hand-flag")).to_be_visible()
    expect(tile_of(carol, alice).locator(".muted-flag")).to_be_visible()
    expect(tile_of(carol, alice).locator(".camera-flag")).to_be_visible()
    expect(tile_of(carol, bob).locator(".hand-flag")).to_be_hidden()

    alice.page.get_by_role("button", name="Lower hand").click()
    for viewer in (bob, carol):
        expect(tile_of(viewer, alice).locator(".hand-flag")).to_be_hidden()
        expect(person_of(viewer, alice)).not_to_contain_text("hand raised")
    alice.page.get_by_role("button", name="Unmute", exact=True).click()
    expect(tile_of(carol, alice).locator(".muted-flag")).to_be_hidden()
    expect(tile_of(carol, alice)).to_have_class(SPEAKING, timeout=30_000)
    assert all(caller.protocol_errors() == [] for caller in (alice, bob, carol))


@pytest.mark.timeout(180)
def test_each_listener_sets_their_own_volume_and_mute_for_one_person(
    app_server: AppServer,
    party: Party,  # noqa: F811
):
    slug = new_room(app_server, "volume")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    player = "(tile) => ({ volume: tile.querySelector('.sound').volume, muted: tile.querySelector('.sound').muted })"

    tile_of(bob, alice).get_by_label("Volume for Alice A.").fill("30")
    assert tile_of(bob, alice).evaluate(player) == {"volume": 0.3, "muted": False}
    mute_for_me = tile_of(bob, alice).get_by_role("button", name="Mute Alice A. for me")
    mute_for_me.click()
    assert tile_of(bob, alice).evaluate(player) == {"volume": 0.3, "muted": True}
    expect(mute_for_me).to_have_attribute("aria-pressed", "true")

    assert tile_of(alice, bob).evaluate(player) == {"volume": 1, "muted": False}, "only bob's page changed"
    expect(tile_of(bob, alice).locator(".muted-flag")).to_be_hidden()  # alice herself is not muted


@pytest.mark.timeout(180)
def test_push_to_talk_opens_the_microphone_only_while_space_is_held(
    app_server: AppServer,
    party: Party,  # noqa: F811
):
    slug = new_room(app_server, "ptt", audio_only=True)
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob, video=False))
    muted_for_bob = tile_of(bob, alice).locator(".muted-flag")

    alice.page.get_by_label("Push to talk").check()
    expect(muted_for_bob).to_be_visible()
    expect(tile_of(bob, alice)).not_to_have_class(SPEAKING, timeout=30_000)

    alice.page.keyboard.down("Space")
    expect(muted_for_bob).to_be_hidden()
    expect(tile_of(bob, alice)).to_have_class(SPEAKING, timeout=30_000)
    alice.page.keyboard.up("Space")
    expect(muted_for_bob).to_be_visible()
    expect(alice.page.get_by_label("Push to talk")).to_be_checked()  # space did not toggle the focused box
    alice.page.keyboard.press("?")
    keys = alice.page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(keys.locator("dt", has_text="Space")).to_be_visible()
    expect(keys).to_contain_text("Hold to talk, with “Push to talk” on")
    alice.page.keyboard.press("Escape")
    expect(keys).to_be_hidden()

    alice.page.get_by_role("button", name="Chat").click()
    alice.page.get_by_label("Message").fill("hold on")
    alice.page.get_by_label("Message").press("Space")
    expect(alice.page.get_by_label("Message")).to_have_value("hold on ")
    expect(alice.page.locator("#mute-button")).to_have_text("Unmute")
    expect(muted_for_bob).to_be_visible()
