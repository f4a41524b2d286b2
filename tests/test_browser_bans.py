"""A barred guest stays out, in real browsers: alice removes and bars a guest, who then opens
the same invite link in a fresh browser context (no cookies: a new guest session) and is turned
away by a readable page."""

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
from tests.test_browser_invites import arrive_as_guest, make_invite

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.timeout(180)
def test_a_barred_guest_opening_the_same_link_in_a_fresh_browser_is_turned_away(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "barring")
    alice = Caller(party.browser, app_server, "alice")
    party.callers.append(alice)
    alice.log_in()
    link = make_invite(alice, slug, uses=5)
    alice.join(slug)
    mallory = arrive_as_guest(party, link, slug, "Mal")
    eventually(everyone_receives(alice, mallory))

    alice.page.get_by_role("button", name="More actions for Mal (guest)").click()
    alice.page.get_by_role("button", name="Remove and bar Mal (guest)", exact=True).click()
    dialog = alice.page.get_by_role("dialog", name="Remove and bar Mal (guest)?")
    withdraw = dialog.get_by_label("Also withdraw the invite link Mal (guest) came in with", exact=False)
    expect(withdraw).not_to_be_checked()  # alice keeps the link: others still use it
    dialog.get_by_role("button", name="Remove and bar").click()

    expect(mallory.page.locator("#call-banner")).to_contain_text("You may not return to this room.")
    fresh = party.browser.new_context()
    try:
        page = fresh.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="You may not join this meeting")).to_be_visible(timeout=DEADLINE * 1000)
        expect(page.locator(".refusal")).to_contain_text("Ask Alice A. for a new link")
        expect(page.get_by_label("Your name")).to_have_count(0)
    finally:
        fresh.close()
