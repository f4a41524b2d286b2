"""The call page inside another site's <iframe> (docs/embedding.md), in real browsers.

A course platform at http://127.0.0.1:<port> (a page served by a second HTTP server, listed in
EMBED_ALLOWED_ORIGINS) puts Dana into alice's room with a join token and static/js/embed-api.js:
she presses Join inside the frame, the platform mutes her and makes her leave through the API
and hears each event. The same page from a site that is not listed gets no call page at all.

The two sites share 127.0.0.1 and differ by port: the same *site* for cookies (so the session
cookie, SameSite=Lax over http, works inside the frame) but another *origin*, which is what
frame-ancestors and postMessage check. Another site entirely needs https and SameSite=None
(SECURE_COOKIES=1; docs/embedding.md).
"""

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live_server import AppServer, PostgresDatabase, free_port
from tests.test_browser_call import (  # noqa: F401 - fixtures
    Caller,
    Party,
    eventually,
    new_room,
    people,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOST_PAGE = """<!doctype html>
<html><head><title>Course platform</title></head>
<body>
<h1>Week 3: live session</h1>
<div id="call"></div>
<script type="module">
import { AudioExchangeCall } from "{app}/static/js/embed-api.js";
window.heard = [];
const call = AudioExchangeCall.create(document.getElementById("call"), { url: "{join_url}" });
call.frame.width = 900;
call.frame.height = 700;
for (const event of ["ready", "joined", "left", "participant-joined", "participant-left", "recording"]) {
  call.on(event, (detail) => window.heard.push({ event, ...detail }));
}
// "ok", or the refusal's code and sentence.
window.command = (name) => call[name]().then(() => "ok", (error) => `${error.code}: ${error.message}`);
</script>
</body></html>
"""


class Site:
    """Another web site: an HTTP server on 127.0.0.1 serving the pages it is given."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def platform() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


@pytest.fixture(scope="module")
def stranger() -> Iterator[Site]:
    """A site whose origin is not listed."""
    site = Site()
    yield site
    site.close()


@pytest.fixture(scope="module")
def embed_server(
    app_server: AppServer, live_database: PostgresDatabase, platform: Site, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """The app with the platform's origin in EMBED_ALLOWED_ORIGINS (the database and static files
    are app_server's, already prepared)."""
    server = AppServer(
        live_database.url, app_server.static_root, env={"EMBED_ALLOWED_ORIGINS": platform.origin}, name="embed"
    )
    server.start()
    yield server
    server.close()


def join_url(server: AppServer, slug: str, name: str, moderator: bool = False) -> str:
    claims = {"room": slug, "name": name, "moderator": moderator, "exp": int(time.time()) + 600, "sub": "lms-42"}
    token = jwt.encode(claims, server.env["JOIN_TOKEN_SECRET"], algorithm="HS256")
    return f"{server.url}/rooms/{slug}/?jwt={token}"


def open_course_page(
    browser: Browser, site: Site, server: AppServer, slug: str, console: list[str], moderator: bool = False
) -> Page:
    site.pages[f"/course/{slug}"] = HOST_PAGE.replace("{app}", server.url).replace(
        "{join_url}", join_url(server, slug, "Dana", moderator)
    )
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{site.origin}/course/{slug}")
    return page


def heard(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("window.heard")


def hears(page: Page, event: str, **detail: Any) -> None:
    def check() -> str | None:
        for item in heard(page):
            if item["event"] == event and all(item.get(key) == value for key, value in detail.items()):
                return None
        return f"no {event} {detail} among {heard(page)}"

    eventually(check)


@dataclass
class Meeting:
    slug: str
    alice: Caller  # in the room, on this site's own call page
    page: Page  # the course platform's page, Dana's call in its frame


@contextmanager
def alice_meets_dana_on_the_platform(
    chromium: Browser, platform: Site, server: AppServer, moderator: bool = False
) -> Iterator[Meeting]:
    slug = new_room(server, "course")
    alice = Party(chromium, server).arrive("alice", slug)
    console: list[str] = []
    page = open_course_page(chromium, platform, server, slug, console, moderator)
    try:
        yield Meeting(slug, alice, page)
    finally:
        print("--- the course page heard ---", *heard(page), "--- and its console ---", *console, sep="\n")
        page.context.close()
        alice.context.close()


@pytest.mark.timeout(180)
def test_a_listed_site_embeds_the_call_and_drives_it_through_the_api(
    embed_server: AppServer,
    platform: Site,
    chromium: Browser,
    people: Any,  # noqa: F811 - the fixture imported above
):
    with alice_meets_dana_on_the_platform(chromium, platform, embed_server) as meeting:
        alice, page = meeting.alice, meeting.page
        call = page.frame_locator("iframe")
        hears(page, "ready", room=meeting.slug)
        assert page.evaluate("window.command('mute')").startswith("not_in_call: "), "not before Join"
        call.get_by_role("button", name="Join").click()
        hears(page, "joined", name="Dana (guest)", moderator=False)
        hears(page, "participant-joined", peerId=alice.peer_id, name="Alice A.")
        hears(page, "recording", active=False)
        dana_id = next(item["peerId"] for item in heard(page) if item["event"] == "joined")
        expect(alice.page.locator("#people-list")).to_contain_text("Dana (guest)")

        assert page.evaluate("window.command('mute')") == "ok"
        expect(call.locator("#mute-button")).to_have_attribute("aria-pressed", "true")
        expect(alice.page.locator(f'#people-list li[data-peer-id="{dana_id}"]')).to_contain_text("muted")
        assert page.evaluate("window.command('unmute')") == "ok"
        expect(alice.page.locator(f'#people-list li[data-peer-id="{dana_id}"]')).not_to_contain_text("muted")
        assert page.evaluate("window.command('cameraOff')") == "ok"
        expect(call.locator("#camera-button")).to_have_text("Camera on")
        expect(alice.page.locator(f'#grid [data-peer-id="{dana_id}"] .camera-flag')).to_be_visible()
        assert page.evaluate("window.command('cameraOn')") == "ok"
        expect(call.locator("#camera-button")).to_have_text("Camera off")
        refusal = page.evaluate("window.command('endForAll')")
        assert refusal.startswith("not_moderator: Only a moderator"), refusal

        alice.leave()
        hears(page, "participant-left", peerId=alice.peer_id)
        assert page.evaluate("window.command('leave')") == "ok"
        hears(page, "left", reason="left")
        expect(call.locator("#call-banner")).to_contain_text("You left the call.")


@pytest.mark.timeout(180)
def test_a_moderator_ends_the_call_for_everyone_through_the_api(
    embed_server: AppServer,
    platform: Site,
    chromium: Browser,
    people: Any,  # noqa: F811 - the fixture imported above
):
    with alice_meets_dana_on_the_platform(chromium, platform, embed_server, moderator=True) as meeting:
        alice, page = meeting.alice, meeting.page
        page.frame_locator("iframe").get_by_role("button", name="Join").click()
        hears(page, "joined", moderator=True)
        hears(page, "participant-joined", peerId=alice.peer_id)

        assert page.evaluate("window.command('endForAll')") == "ok"
        hears(page, "left", reason="ended")
        expect(alice.page.locator("#call-banner")).to_contain_text("ended")
        assert alice.page.evaluate("window.audioExchange.state") == "ended"


@pytest.mark.timeout(120)
def test_a_site_that_is_not_listed_cannot_frame_the_call(
    embed_server: AppServer,
    stranger: Site,
    chromium: Browser,
    people: Any,  # noqa: F811 - the fixture imported above
):
    slug = new_room(embed_server, "course")
    console: list[str] = []
    page = open_course_page(chromium, stranger, embed_server, slug, console)
    try:
        frame = page.frame_locator("iframe")
        eventually(lambda: None if any("frame-ancestors" in line for line in console) else f"console: {console}")
        expect(frame.locator("#prejoin")).to_have_count(0)
        assert heard(page) == [], "the call page never ran, so it said nothing"
    finally:
        page.context.close()
