"""The pre-join screen in a real browser: "Copy link" puts the room's address on the clipboard."""

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import Caller, Party, new_room, party, people  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.timeout(90)
def test_alice_copies_the_rooms_link_before_joining(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "copy")
    alice = Caller(party.browser, app_server, "alice")
    party.callers.append(alice)
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    alice.log_in()
    alice.page.goto(f"{app_server.url}/rooms/{slug}/")

    alice.page.get_by_role("button", name="Copy link").click()

    expect(alice.page.locator("#copy-status")).to_have_text("Link copied: paste it to whoever should join.")
    assert alice.page.evaluate("() => navigator.clipboard.readText()") == f"{app_server.url}/rooms/{slug}/"
    assert alice.page.evaluate("window.audioExchange.state") == "prejoin"
