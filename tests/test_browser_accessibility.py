"""Accessibility and the pre-join checks, in a real browser.

axe-core (axe-playwright-python, which bundles it: no network) finds no serious or critical
violation on the lobby, the pre-join screen and a two-person call, colour contrast included.
On the pre-join screen alice sees her microphone's level move (Chromium's fake microphone
beeps), a speaker choice where the browser lists outputs, and "Copy link". In the call, bob's
tile says how his media reaches her ("direct", neutral, explained on hover and focus) and how
good the connection is, as bars with a text alternative.
"""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

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
from tests.test_browser_controls import tile_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Axe()
BLOCKING = {"serious", "critical"}
NEUTRAL_BADGE = "rgb(51, 64, 77)"  # #33404d, the grey of every other badge

# The <meter>'s readings every 100 ms for two seconds: the fake microphone beeps about once a second.
METER_READINGS_JS = """() => new Promise((resolve) => {
  const meter = document.getElementById("mic-level");
  const readings = [];
  const timer = setInterval(() => {
    readings.push(meter.value);
    if (readings.length === 20) { clearInterval(timer); resolve(readings); }
  }, 100);
})"""


def assert_accessible(page: Page, where: str) -> None:
    """axe-core on the whole page: no serious or critical violation, each one named with its elements."""
    violations = AXE.run(page).response["violations"]
    blocking = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in violations
        if violation["impact"] in BLOCKING
    ]
    assert not blocking, f"axe on {where}:\n" + "\n".join(blocking)


@pytest.mark.timeout(120)
def test_the_lobby_and_the_pre_join_screen_pass_axe_and_show_the_microphone_level(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "a11y")
    alice = Caller(party.browser, app_server, "alice", first_visit=True)
    party.callers.append(alice)
    alice.page.goto(f"{app_server.url}/")
    expect(alice.page.get_by_role("link", name="Log in").first).to_be_visible()
    assert_accessible(alice.page, "the lobby, signed out")
    alice.log_in()
    expect(alice.page.locator(f'.room-list a[href="/rooms/{slug}/"]').first).to_be_visible()
    assert_accessible(alice.page, "the lobby")

    page = alice.page
    page.goto(f"{app_server.url}/rooms/{slug}/")
    expect(page.get_by_role("button", name="Join call")).to_be_enabled()
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    meter = page.get_by_role("meter", name="Microphone level")
    expect(meter).to_be_visible()
    assert page.evaluate(METER_READINGS_JS) == [0] * 20, "nothing is measured before the microphone starts"

    page.get_by_role("button", name="Test camera and microphone").click()
    expect(page.locator("#preview-tile")).to_have_class(re.compile(r"\bhas-video\b"))
    readings = page.evaluate(METER_READINGS_JS)
    assert max(readings) >= 0.3 and max(readings) - min(readings) >= 0.2, f"the meter moves with the beep: {readings}"

    speaker = page.locator("#speaker-field")
    outputs = page.locator("#speaker-select option")
    if page.evaluate("'setSinkId' in HTMLMediaElement.prototype") and outputs.count() > 0:
        expect(speaker).to_be_visible()
        expect(page.get_by_label("Speaker")).to_be_enabled()
    else:
        expect(speaker).to_be_hidden()  # no choice to offer: none shown
    assert_accessible(page, "the pre-join screen, previewing")


@pytest.mark.timeout(180)
def test_a_call_passes_axe_and_each_tile_explains_its_path_and_quality(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "a11y-call")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    page = alice.page
    expect(page.get_by_role("button", name="Mute", exact=True)).to_be_focused()  # Join's focus went to the toolbar

    path = tile_of(alice, bob).locator(".badge.path")
    expect(path).to_have_text("direct")
    expect(path).to_have_accessible_description(re.compile(r"^Direct: sound and video go straight"))
    assert path.evaluate("(badge) => getComputedStyle(badge).backgroundColor") == NEUTRAL_BADGE, "not red"
    tip = tile_of(alice, bob).get_by_role("tooltip")
    expect(tip).to_be_hidden()
    path.hover()
    expect(tip).to_be_visible()
    page.mouse.move(0, 0)
    expect(tip).to_be_hidden()
    path.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # back to it: the keyboard reaches it
    expect(path).to_be_focused()
    expect(tip).to_be_visible()
    page.keyboard.press("Escape")
    expect(tip).to_be_hidden()  # dismissed where it stands
    expect(path).to_be_focused()

    quality = tile_of(alice, bob).get_by_role("img", name=re.compile(r"^Connection quality: "))
    expect(quality).to_have_accessible_name("Connection quality: good")  # loopback: no loss, no delay
    expect(quality).to_have_attribute("data-bars", "3")
    expect(tile_of(bob, alice).get_by_role("img", name="Connection quality: good")).to_be_visible()

    assert_accessible(page, "a call with two people")
    choose_a_speaker(alice, bob)


def choose_a_speaker(alice: Caller, bob: Caller) -> None:
    """Where the browser lists outputs, alice's choice plays bob and is remembered."""
    page = alice.page
    outputs = page.locator("#speaker-select option")
    if outputs.count() == 0:
        expect(page.locator("#speaker-field")).to_be_hidden()
        return
    page.locator(".device-menu summary").click()
    choice = outputs.last.get_attribute("value") or ""
    page.get_by_label("Speaker").select_option(choice)
    bob_sound = tile_of(alice, bob).locator("audio")
    expect(bob_sound).to_have_js_property("sinkId", choice)
    assert page.evaluate("localStorage.getItem('audioexchange:audio-output')") == choice
    page.keyboard.press("Escape")
    expect(page.locator(".device-menu")).not_to_have_attribute("open", "")
