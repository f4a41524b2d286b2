"""Notices seen from real browsers: alice is told, in a polite live region, when someone
joins, raises a hand or leaves, bob when she locks the room, and each notice fades by itself."""

import re

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import Party, new_room, party, people  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.timeout(180)
def test_people_are_told_who_joins_raises_a_hand_locks_the_room_and_leaves_and_the_notices_fade(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "notices")
    alice = party.arrive("alice", slug)
    notices = alice.page.locator("#notices")
    expect(notices).to_have_attribute("aria-live", "polite")

    bob = party.arrive("bob", slug)
    expect(notices.locator(".notice", has_text="Bob B. joined")).to_have_count(1)
    path = alice.page.locator(f'#grid [data-peer-id="{bob.peer_id}"] .badge.path')
    expect(path).to_have_accessible_description(re.compile(r"^Direct: sound and video go straight"))
    bob.page.get_by_role("button", name="Raise hand").click()
    expect(notices.locator(".notice", has_text="Bob B. raised a hand")).to_have_count(1)
    expect(bob.page.locator("#notices .notice", has_text="raised a hand")).to_have_count(0)  # not about oneself

    alice.page.get_by_role("button", name="Lock room").click()
    expect(bob.page.locator("#notices")).to_contain_text("Alice A. locked the room: nobody new can join.")

    bob.leave()
    left = notices.locator(".notice", has_text="Bob B. left")
    expect(left).to_have_count(1)
    expect(notices.locator(".notice", has_text="Bob B. joined")).to_have_count(0, timeout=15_000)  # faded
    left.get_by_role("button", name="Dismiss: Bob B. left").click()
    expect(left).to_have_count(0)
