"""Chat seen from real browsers: a line typed in one appears in the other, markup stays text,
and a closed panel counts what was missed."""

import secrets

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import Party, party, people  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCRIPT = '<img src=x onerror="window.__pwned = true">'


@pytest.mark.timeout(120)
def test_a_line_typed_by_alice_appears_for_bob_as_text_with_an_unread_badge(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = f"chatty-{secrets.token_hex(3)}"
    app_server.create_room(slug, owner="alice", name="Chatty")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)

    alice.page.get_by_role("button", name="Chat").click()
    alice.page.get_by_label("Message").fill("Hello Bob, can you hear me?")
    alice.page.get_by_role("button", name="Send").click()
    alice.page.get_by_label("Message").fill(SCRIPT)
    alice.page.keyboard.press("Enter")

    badge = bob.page.locator("#chat-button .badge")
    expect(badge).to_have_text("2")
    bob.page.locator("#chat-button").click()
    expect(badge).to_be_hidden()
    lines = bob.page.locator("#chat-list li")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("Hello Bob, can you hear me?")
    expect(lines.nth(0)).to_contain_text("Alice")
    expect(lines.nth(1).locator("p")).to_have_text(SCRIPT)
    assert bob.page.locator("#chat-list img").count() == 0, "markup in a message stays text"
    assert bob.page.evaluate("window.__pwned") is None

    carol = party.arrive("carol", slug)
    carol.page.get_by_role("button", name="Chat").click()
    expect(carol.page.locator("#chat-list li")).to_have_count(2)
