"""Invite links from real browsers: the owner makes a link on the room's invites page, and a
guest without an account opens it, types a name and talks with her."""

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import (  # noqa: F401 - fixtures
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


def make_invite(alice: Caller, slug: str, uses: int) -> str:
    alice.page.goto(f"{alice.server.url}/rooms/{slug}/invites/")
    alice.page.get_by_label("Uses").fill(str(uses))
    alice.page.get_by_role("button", name="Create a link").click()
    link = alice.page.get_by_label("Invite link").input_value()
    assert link.startswith(f"{alice.server.url}/i/")
    return link


def arrive_as_guest(callers: Party, link: str, slug: str, name: str) -> Caller:
    """Someone without an account opens `link`, types `name`, and joins the call in room `slug`."""
    guest = Caller(callers.browser, callers.server, name)  # no account: never logs in
    callers.callers.append(guest)
    guest.page.goto(link)
    guest.page.get_by_label("Your name").fill(name)
    guest.page.get_by_role("button", name="Continue").click()
    guest.page.wait_for_url(f"{callers.server.url}/rooms/{slug}/")
    guest.page.get_by_role("button", name="Join").click()
    guest.wait_in_call()
    return guest


@pytest.mark.timeout(180)
def test_a_guest_joins_through_a_single_use_link_and_exchanges_media_with_alice(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "invited")
    alice = Caller(party.browser, app_server, "alice")
    party.callers.append(alice)
    alice.log_in()
    link = make_invite(alice, slug, uses=1)
    alice.join(slug)

    guest = arrive_as_guest(party, link, slug, "Gus")

    expect(alice.page.locator("#people-list")).to_contain_text("Gus (guest)")
    expect(guest.page.locator("#people-list")).to_contain_text("Gus (guest, you)")
    expect(guest.page.locator("#people-list")).not_to_contain_text("(guest) (you)")
    expect(alice.page.locator("#people-list")).to_contain_text("Alice A. (you)")
    eventually(everyone_receives(alice, guest))
    expect(guest.page.locator("#lock-button")).to_be_hidden()
    expect(guest.page.locator(".moderation-actions")).to_have_count(0)

    latecomer = party.browser.new_context()
    try:
        page = latecomer.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 410
        expect(page.get_by_role("heading", name="This invite is used up")).to_be_visible(timeout=DEADLINE * 1000)
    finally:
        latecomer.close()
