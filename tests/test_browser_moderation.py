"""Moderation seen from real browsers: the owner mutes and removes people from each person's
menu in the participant list (removing asks first, in a dialog naming the person), and lets a
knocking newcomer in from the pop-up that chimes when they knock."""

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

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


def connected_to(caller: Caller) -> set[str]:
    return set(caller.page.evaluate("[...window.audioExchange.peerConnections().keys()]"))


def hung_up(caller: Caller, gone: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        return f"{caller} still has a connection to {gone}" if gone.peer_id in connected_to(caller) else None

    return check


@pytest.mark.timeout(180)
def test_the_owner_mutes_carol_then_removes_bob_whose_media_stops_for_the_others(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "moderated")
    alice, bob, carol = (party.arrive(name, slug) for name in ("alice", "bob", "carol"))
    eventually(everyone_receives(alice, bob, carol))
    expect(bob.page.get_by_role("button", name="More actions for Alice A.")).to_have_count(0)  # moderators only
    expect(bob.page.get_by_role("button", name="Remove Alice A.")).to_have_count(0)

    carols_menu = alice.page.get_by_role("button", name="More actions for Carol C.")
    carols_menu.click()
    alice.page.get_by_role("button", name="Mute Carol C.", exact=True).click()
    expect(carols_menu).to_have_attribute("aria-expanded", "false")  # done: the menu closes
    expect(carols_menu).to_be_focused()
    expect(carol.page.locator("#notices")).to_contain_text("Alice A. muted you")
    expect(carol.page.locator("#mute-button")).to_have_text("Unmute")

    alice.page.get_by_role("button", name="More actions for Bob B.").click()
    remove = alice.page.get_by_role("button", name="Remove Bob B.", exact=True)
    remove.click()
    dialog = alice.page.get_by_role("dialog", name="Remove Bob B.?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Bob B. leaves the call now.")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    alice.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(remove).to_be_focused()  # back where alice was
    assert bob.page.evaluate("window.audioExchange.state") == "in-call", "one click removes nobody"

    remove.click()
    alice.page.keyboard.press("Tab")  # Cancel -> Remove, by keyboard alone
    expect(dialog.get_by_role("button", name="Remove", exact=True)).to_be_focused()
    alice.page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()

    expect(bob.page.locator("#call-banner")).to_contain_text("Alice A. removed you from the meeting.")
    bob.page.wait_for_function("() => window.audioExchange.state === 'ended'")
    for other in (alice, carol):
        expect(other.page.locator(f'#grid [data-peer-id="{bob.peer_id}"]')).to_have_count(0)
        eventually(hung_up(other, bob))
    assert connected_to(bob) == set(), "bob's page hung up every peer connection"
    eventually(everyone_receives(alice, carol))


def alice_and_a_knock(server: AppServer, party: Party, newcomer: str) -> tuple[Caller, Caller]:  # noqa: F811
    """alice in her "Ask to join" room, and `newcomer` who clicked Join and now asks to be let in."""
    slug = new_room(server, "knock")
    ask_to_join = f"from rooms.models import Room; Room.objects.filter(slug={slug!r}).update(knock=True)"
    server.manage("shell", "-c", ask_to_join)
    alice = party.arrive("alice", slug)
    knocker = Caller(party.browser, server, newcomer)
    party.callers.append(knocker)
    knocker.log_in()
    knocker.page.goto(f"{server.url}/rooms/{slug}/")
    knocker.page.get_by_role("button", name="Join").click()
    expect(knocker.page.locator("#prejoin-status")).to_contain_text("Asking to be let in…")
    return alice, knocker


@pytest.mark.timeout(180)
def test_a_knocking_newcomer_waits_until_the_owner_admits_them(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    alice, bob = alice_and_a_knock(app_server, party, "bob")

    expect(bob.page.locator("#prejoin-status")).to_contain_text("Waiting for a moderator to let you in")
    expect(bob.page.locator("#call")).to_be_hidden()  # not an empty call screen
    assert bob.page.evaluate("window.audioExchange.state") == "waiting"
    expect(alice.page.locator("#waiting-list li")).to_have_count(1)
    assert connected_to(bob) == set(), "nothing of the room reaches a waiting page"

    knock = alice.page.locator("#notices .notice", has_text="Bob B. is asking to join")
    expect(knock).to_have_attribute("data-chimed", "true")  # alice heard it, too
    knock.get_by_role("button", name="Admit Bob B.").click()

    bob.wait_in_call()
    expect(bob.page.locator("#call")).to_be_visible()
    expect(bob.page.locator("#prejoin")).to_be_hidden()
    expect(bob.page.get_by_role("button", name="Mute", exact=True)).to_be_focused()  # the toolbar, as after Join
    expect(alice.page.locator("#waiting-panel")).to_be_hidden()
    expect(knock).to_have_count(0)
    eventually(everyone_receives(alice, bob))


@pytest.mark.timeout(180)
def test_carol_stops_asking_to_be_let_in_and_the_owner_is_no_longer_asked(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    alice, carol = alice_and_a_knock(app_server, party, "carol")
    knock = alice.page.locator("#notices .notice", has_text="Carol C. is asking to join")
    expect(knock).to_have_count(1)

    cancel = carol.page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    cancel.click()

    carol.page.wait_for_url(f"{app_server.url}/")
    expect(knock).to_have_count(0)
    expect(alice.page.locator("#waiting-panel")).to_be_hidden()
