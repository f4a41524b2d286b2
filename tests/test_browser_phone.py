"""The call on a phone (390x844, touch) in real browsers: one row of icon buttons, each at least
44 px, with a More menu for the rest; the chat and the participant list open as sheets that
leave Mute and Leave uncovered; your own video small in a corner, the other person's large; no
emoji anywhere. And each person's menu ("More actions for Bob B."), whose Remove asks first,
naming the person, and removes nobody until it is confirmed.

alice owns the room and calls from her phone; bob calls from a desktop.
"""

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

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

WIDTH, HEIGHT = 390, 844
PHONE: dict[str, Any] = {"viewport": {"width": WIDTH, "height": HEIGHT}, "has_touch": True, "is_mobile": True}
ROW = ["Mute", "Camera off", "Raise hand", "Chat", "People", "More", "Leave"]
TOUCH_TARGET = 44

# Emoji would need an emoji font: none in the page's text, hidden parts included, nor in a label.
EMOJI_JS = """() => {
  const labels = [...document.querySelectorAll("[aria-label], [title]")]
    .map((node) => `${node.getAttribute("aria-label") ?? ""} ${node.getAttribute("title") ?? ""}`);
  return [...(document.body.textContent + labels.join(" ")).matchAll(/\\p{Extended_Pictographic}/gu)].map((m) => m[0]);
}"""

ICON_OF_JS = "(node) => getComputedStyle(node, '::before').maskImage"

ICON_FILES_JS = """() => performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes("/static/icons/"))
  .map((entry) => ({ url: entry.name, status: entry.responseStatus }))"""

# Is the control what a finger at its centre would touch, or is something drawn over it?
UNCOVERED_JS = """(control) => {
  const box = control.getBoundingClientRect();
  return control.contains(document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2));
}"""

# A style sheet made by script: the page's Content-Security-Policy refuses a <style> element.
HIDE_ICONS_JS = """(hidden) => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync("[data-icon]::before { visibility: hidden; }");
  document.adoptedStyleSheets = hidden ? [sheet] : [];
}"""


def toolbar_button(page: Page, name: str) -> Locator:
    return page.get_by_role("toolbar", name="Call controls").get_by_role("button", name=name, exact=True)


def check_one_row_of_touch_buttons(page: Page) -> None:
    row = page.locator(".controls > button:visible")
    expect(row).to_have_count(len(ROW))
    boxes = []
    for name in ROW:
        box = toolbar_button(page, name).bounding_box()
        assert box is not None, f"{name} is on the screen"
        assert box["width"] >= TOUCH_TARGET and box["height"] >= TOUCH_TARGET, f"{name} is a touch target: {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{name} fits across: {box}"
        boxes.append(box)
    tops = [box["y"] for box in boxes]
    assert max(tops) - min(tops) < 1, f"one row: {tops}"
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, "no sideways scroll"


def check_icons_are_drawn_from_svg(page: Page) -> None:
    for name in ROW:
        icon = toolbar_button(page, name).evaluate(ICON_OF_JS)
        assert re.fullmatch(r'url\(".*/static/icons/[\w-]+(\.\w+)?\.svg"\)', icon), f"{name}'s icon: {icon}"
    loaded = page.evaluate(ICON_FILES_JS)
    assert len(loaded) >= len(ROW) and all(entry["status"] == 200 for entry in loaded), loaded
    toolbar = page.locator(".controls")
    with_icons = toolbar.screenshot()
    page.evaluate(HIDE_ICONS_JS, True)
    assert toolbar.screenshot() != with_icons, "the icons draw something"
    page.evaluate(HIDE_ICONS_JS, False)
    assert page.evaluate(EMOJI_JS) == []


def check_mute_and_leave_uncovered(page: Page, sheet: Locator) -> None:
    for name in ("Mute", "Leave"):
        assert toolbar_button(page, name).evaluate(UNCOVERED_JS), f"{name} is not covered"
    sheet_box, toolbar_box = sheet.bounding_box(), page.locator(".controls").bounding_box()
    assert sheet_box and toolbar_box and sheet_box["y"] + sheet_box["height"] <= toolbar_box["y"] + 0.5, (
        f"the sheet {sheet_box} ends above the toolbar {toolbar_box}"
    )


def check_more_menu(page: Page, remote_tile: Locator) -> None:
    more = toolbar_button(page, "More")
    share = page.get_by_role("button", name="Share screen")
    expect(share).to_be_hidden()
    more.tap()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(share).to_be_in_viewport()
    expect(page.locator("#more-controls summary", has_text="Devices")).to_be_visible()
    page.keyboard.press("Escape")
    expect(share).to_be_hidden()
    expect(more).to_have_attribute("aria-expanded", "false")
    more.tap()
    expect(share).to_be_visible()
    remote_tile.tap()  # anywhere outside the menu
    expect(share).to_be_hidden()


def check_self_view_is_small(page: Page, local_tile: Locator, remote_tile: Locator) -> None:
    local, remote = local_tile.bounding_box(), remote_tile.bounding_box()
    assert local and remote
    assert local["width"] * local["height"] * 4 < remote["width"] * remote["height"], f"self {local}, remote {remote}"
    assert local["x"] + local["width"] > WIDTH - 20, f"the self-view sits in the right corner: {local}"
    expect(remote_tile.locator("video")).to_be_in_viewport()
    assert remote_tile.locator("video").evaluate("(video) => video.videoWidth") > 0


@pytest.mark.timeout(240)
def test_alice_runs_the_call_from_her_phone_and_removes_bob_only_once_she_confirms(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "phone")
    alice = party.arrive("alice", slug, device=PHONE)
    bob = party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    page = alice.page
    bobs_tile = page.locator(f'#grid .tile[data-peer-id="{bob.peer_id}"]')
    bob.page.get_by_role("button", name="Raise hand").click()
    expect(bobs_tile.locator(".hand-flag")).to_have_text("hand raised")

    check_one_row_of_touch_buttons(page)
    check_icons_are_drawn_from_svg(page)
    check_self_view_is_small(page, page.locator("#grid .tile.local"), bobs_tile)
    check_more_menu(page, bobs_tile)
    bob.page.get_by_role("button", name="Share screen").click()
    expect(page.locator("#stage video")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, "no sideways scroll"
    bob.page.get_by_role("button", name="Stop sharing").click()
    expect(page.locator("#stage")).to_be_hidden()

    chat = page.locator("#chat-panel")
    toolbar_button(page, "Chat").tap()
    expect(page.get_by_label("Message")).to_be_in_viewport()
    check_mute_and_leave_uncovered(page, chat)
    people_sheet = page.locator("#people-panel")
    toolbar_button(page, "People").tap()
    expect(people_sheet).to_be_in_viewport()
    expect(chat).to_be_hidden()  # one sheet at a time
    check_mute_and_leave_uncovered(page, people_sheet)

    bob_in_list = people_sheet.locator(f'li[data-peer-id="{bob.peer_id}"]')
    expect(bob_in_list).to_contain_text("hand raised")
    menu = people_sheet.get_by_role("button", name="More actions for Bob B.")
    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for name in ("Ask Bob B. to mute", "Mute Bob B.", "Remove Bob B.", "Remove and bar Bob B."):
        action = bob_in_list.get_by_role("button", name=name, exact=True)
        expect(action).to_be_visible()
        box = action.bounding_box()
        assert box and box["height"] >= TOUCH_TARGET, f"{name}: {box}"
    page.keyboard.press("Escape")
    expect(bob_in_list.get_by_role("button", name="Remove Bob B.")).to_be_hidden()
    expect(people_sheet).to_be_visible()  # Escape closed the innermost menu only

    menu.tap()
    remove = bob_in_list.get_by_role("button", name="Remove Bob B.", exact=True)
    remove.tap()
    dialog = page.get_by_role("dialog", name="Remove Bob B.?")
    expect(dialog).to_contain_text("Bob B. leaves the call now.")
    dialog.get_by_role("button", name="Cancel").tap()
    expect(dialog).to_be_hidden()
    # Said after the cancelled removal, on the same socket: bob reads it only if he is still in.
    toolbar_button(page, "Chat").tap()
    page.get_by_label("Message").fill("Still with us?")
    page.get_by_label("Message").press("Enter")
    expect(bob.page.locator("#chat-list")).to_contain_text("Still with us?")
    assert bob.page.evaluate("window.audioExchange.state") == "in-call"

    toolbar_button(page, "People").tap()
    menu.tap()
    remove.tap()
    dialog.get_by_role("button", name="Remove", exact=True).tap()
    expect(bob.page.locator("#call-banner")).to_contain_text("Alice A. removed you from the meeting.")
    expect(bobs_tile).to_have_count(0)
    expect(bob_in_list).to_have_count(0)
