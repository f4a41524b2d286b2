"""Chat seen from real browsers: a line typed in one appears in the other, markup stays text,
a closed panel counts what was missed, and a line typed while the server is down is sent once
it is back."""

import secrets

import pytest
from playwright.sync_api import Locator, expect

from tests.live_server import AppServer
from tests.test_browser_call import (  # noqa: F401 - fixtures
    DEADLINE,
    Caller,
    Party,
    party,
    people,
    restartable_party,
    restartable_server,
)

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


def stored_lines(server: AppServer, text: str) -> int:
    code = f"from chat.models import ChatMessage; print(ChatMessage.objects.filter(text={text!r}).count())"
    return int(server.manage("shell", "--no-imports", "-c", code))


def say(caller: Caller, text: str) -> None:
    """Type a chat line and press Enter (the chat panel is open)."""
    caller.page.get_by_label("Message").fill(text)
    caller.page.keyboard.press("Enter")


def reaches_once(caller: Caller, server: AppServer, text: str) -> Locator:
    """`caller` opens the chat and sees `text` as its one line, stored once: its list of lines."""
    caller.page.get_by_role("button", name="Chat").click()
    lines = caller.page.locator("#chat-list li")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text(text)
    assert stored_lines(server, text) == 1
    return lines


@pytest.mark.timeout(180)
def test_a_line_typed_while_the_server_is_down_is_sending_then_delivered_once(
    restartable_party: Party,  # noqa: F811 - the fixture imported above
):
    server = restartable_party.server
    slug = f"offline-{secrets.token_hex(3)}"
    server.create_room(slug, owner="alice", name="Offline")
    alice, bob = restartable_party.arrive("alice", slug), restartable_party.arrive("bob", slug)
    alice.page.get_by_role("button", name="Chat").click()

    server.stop()
    alice.page.wait_for_function("() => window.audioExchange.state === 'reconnecting'", timeout=DEADLINE * 1000)
    say(alice, "Typed while the server was away")
    mine = alice.page.locator("#chat-list li")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Sending…")
    expect(alice.page.get_by_label("Message")).to_have_value("")
    kept = alice.page.evaluate("() => Object.values(sessionStorage)")
    assert any("Typed while the server was away" in value for value in kept), "a reload would keep it"

    server.start()
    expect(mine).not_to_contain_text("Sending…", timeout=DEADLINE * 1000)
    expect(mine).to_have_count(1)
    expect(mine.locator("time")).not_to_have_text("")
    lines = reaches_once(bob, server, "Typed while the server was away")
    expect(lines).to_contain_text("Alice")
    assert alice.page.evaluate("() => Object.keys(sessionStorage).length") == 0, "nothing left to send"
    sent = alice.page.evaluate("() => window.__sockets.length")
    assert sent >= 2, f"the page reconnected ({sent} sockets)"
    assert [error for error in alice.protocol_errors() if error["code"].startswith("chat_")] == []


# A network that loses chat frames on the way out, and only those (`window.__dropChat`).
LOSE_CHAT_FRAMES_JS = """() => {
  const proto = Object.getPrototypeOf(WebSocket.prototype);
  const send = proto.send;
  proto.send = function (data) {
    if (window.__dropChat && String(data).includes('"type":"chat"')) return;
    send.call(this, data);
  };
  window.__dropChat = true;
}"""


@pytest.mark.timeout(120)
def test_a_line_the_server_never_answered_is_marked_not_sent_and_retry_sends_it(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = f"lossy-{secrets.token_hex(3)}"
    app_server.create_room(slug, owner="alice", name="Lossy")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    alice.page.evaluate(LOSE_CHAT_FRAMES_JS)
    alice.page.get_by_role("button", name="Chat").click()
    say(alice, "Lost on the way")

    mine = alice.page.locator("#chat-list li")
    expect(mine).to_contain_text("Sending…")
    expect(mine).to_contain_text("Not sent", timeout=20_000)
    alice.page.evaluate("() => { window.__dropChat = false; }")
    mine.get_by_role("button", name="Retry").click()

    expect(mine).not_to_contain_text("Not sent")
    expect(mine).not_to_contain_text("Sending…")
    reaches_once(bob, app_server, "Lost on the way")


@pytest.mark.timeout(120)
def test_a_line_still_unsent_when_the_page_reloads_is_sent_after_joining_again(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = f"reload-{secrets.token_hex(3)}"
    app_server.create_room(slug, owner="alice", name="Reload")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    alice.page.evaluate(LOSE_CHAT_FRAMES_JS)
    alice.page.get_by_role("button", name="Chat").click()
    say(alice, "Typed before the reload")
    expect(alice.page.locator("#chat-list li")).to_contain_text("Sending…")

    alice.page.reload()  # the frames were lost, and the page with them; the outbox was kept
    alice.page.get_by_role("button", name="Join").click()
    alice.wait_in_call()
    alice.page.get_by_role("button", name="Chat").click()

    mine = alice.page.locator("#chat-list li")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Typed before the reload")
    expect(mine).not_to_contain_text("Sending…")
    reaches_once(bob, app_server, "Typed before the reload")
