"""The call by keyboard, in a real browser: focus is on the toolbar after Join, M, V, H and C
act, keys typed into the chat stay text, Escape closes the Devices menu, and ? lists the keys."""

import pytest
from playwright.sync_api import expect

from tests.live_server import AppServer
from tests.test_browser_call import Party, new_room, party, people  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.timeout(120)
def test_alice_runs_her_call_from_the_keyboard(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    alice = party.arrive("alice", new_room(app_server, "keys"))
    page = alice.page
    mute = page.locator("#mute-button")
    expect(mute).to_be_focused()

    page.keyboard.press("m")
    expect(mute).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("v")
    expect(page.locator("#camera-button")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("h")
    expect(page.locator("#hand-button")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("c")
    expect(page.locator("#chat-panel")).to_be_visible()
    page.get_by_label("Message").press_sequentially("mvhc")
    expect(page.get_by_label("Message")).to_have_value("mvhc")
    expect(mute).to_have_attribute("aria-pressed", "true")  # typing is not a shortcut

    devices = page.locator(".device-menu")
    devices.locator("summary").click()
    expect(devices).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(devices).not_to_have_attribute("open", "")
    expect(devices.locator("summary")).to_be_focused()

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Mute or unmute the microphone")
    page.keyboard.press("m")
    expect(mute).to_have_attribute("aria-pressed", "true")  # no shortcut under an open dialog
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("m")
    expect(mute).to_have_attribute("aria-pressed", "false")
