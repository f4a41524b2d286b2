"""The Content-Security-Policy holds in a real browser (issue 12): the pages work with no
inline script or style allowed, and Chromium reports no violation on any of them."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.live_server import AppServer
from tests.test_browser_call import PEOPLE, Caller, eventually, everyone_receives, new_room

pytestmark = pytest.mark.browser

# Every violation the page sees, as Chromium reports it to the page itself.
RECORD_VIOLATIONS_JS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


class WatchedCaller(Caller):
    def __init__(self, browser: Browser, server: AppServer, username: str) -> None:
        super().__init__(browser, server, username)
        self.context.add_init_script(RECORD_VIOLATIONS_JS)  # runs on every page it opens from now on

    def violations(self) -> list[str]:
        reported = self.page.evaluate("window.__cspViolations || []")
        console = [line for line in self.console if "Content Security Policy" in line]
        return [*reported, *console]


@pytest.fixture
def callers(chromium: Browser, app_server: AppServer) -> Iterator[list[WatchedCaller]]:
    app_server.create_users(PEOPLE)
    made = [WatchedCaller(chromium, app_server, name) for name in ("alice", "bob")]
    yield made
    for caller in made:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
        caller.context.close()


def test_lobby_room_and_call_pages_run_under_the_policy(callers: list[WatchedCaller], app_server: AppServer):
    alice, bob = callers
    slug = new_room(app_server, "csp")
    vault = new_room(app_server, "csp-vault")
    app_server.manage("shell", "--no-imports", "-c", _set_password(vault))

    alice.log_in()
    expect(alice.page.get_by_role("heading", name="Create a room")).to_be_visible()
    assert alice.violations() == []
    _mallorys_injected_script_does_not_run(alice)

    bob.log_in()
    bob.page.goto(f"{app_server.url}/rooms/{vault}/")
    expect(bob.page.get_by_label("Password")).to_be_visible()
    assert bob.violations() == []

    alice.join(slug)
    bob.join(slug)
    eventually(everyone_receives(alice, bob))
    assert alice.violations() == []
    assert bob.violations() == []


def _mallorys_injected_script_does_not_run(caller: WatchedCaller) -> None:
    """What an injected inline script (cross-site scripting) would do: the browser refuses to run it."""
    caller.page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__pwned = 1';"
        " document.body.append(s); }"
    )
    assert caller.page.evaluate("window.__pwned === undefined"), "an inline script ran"
    eventually(lambda: None if caller.violations() else "no violation reported for the inline script", 5)
    caller.page.evaluate("window.__cspViolations = []")
    caller.console.clear()


def _set_password(slug: str) -> str:
    return (
        "from rooms.models import Room\n"
        f"room = Room.objects.get(slug={slug!r})\n"
        "room.set_password('correct horse battery')\n"
        "room.save()\n"
    )
