"""Take the README's screenshots from the real app: `python -m scripts.screenshots`.

It serves the app as the browser tests do (daphne over a throwaway PostgreSQL database,
tests/live_server.py), then drives headless Chromium with its fake camera and microphone:

- lobby.png: the lobby of a signed-in person;
- prejoin.png: the pre-join screen, camera previewing;
- call.png: a call of three, as one of them sees it;
- phone.png: the same call on a phone (390x844, touch);
- call-fr.png: the call page for a browser that asks for French.

The pictures land in docs/screenshots/ (or the folder given as the first argument).
"""

import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.live_server import PASSWORD, AppServer, Person, PostgresDatabase

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = [Person("gina", "Gina Rossi"), Person("omar", "Omar Haddad"), Person("lea", "Léa Martin")]
SLUG = "design-review"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def person(browser: Browser, server: AppServer, username: str, **options: object) -> Page:
    """A signed-in page of `username` in a browser context of its own."""
    context: BrowserContext = browser.new_context(**({"viewport": DESKTOP} | options))  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(f"{server.url}/")
    return page


def join(page: Page, server: AppServer) -> None:
    page.goto(f"{server.url}/rooms/{SLUG}/")
    page.locator("#join-button:enabled").click()
    page.wait_for_function("() => window.audioExchange.state === 'in-call'", timeout=60_000)


def wait_for_tiles(page: Page, count: int) -> None:
    """Until `count` tiles show a decoded remote frame (the fake camera's picture)."""
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('#grid video')].filter((v) => v.videoWidth > 0).length >= n",
        arg=count,
        timeout=60_000,
    )
    time.sleep(1.5)  # let the fake camera's moving picture and the speaker ring settle


def leave(page: Page) -> None:
    """Leave with the Leave button (a closed tab would stay listed while it may come back)."""
    page.locator("#leave-button").click()
    page.wait_for_url("**/")
    page.context.close()


def quiet(page: Page) -> None:
    """Dismiss the join notices, which would cover the participant list."""
    dismiss = page.locator("#notices button")
    while dismiss.count():
        dismiss.first.click()


def shoot(browser: Browser, server: AppServer, out: Path) -> None:
    gina = person(browser, server, "gina")
    gina.screenshot(path=out / "lobby.png")
    gina.goto(f"{server.url}/rooms/{SLUG}/")
    gina.locator("#preview-button").click()
    gina.wait_for_function("() => document.querySelector('#preview-tile video')?.videoWidth > 0", timeout=30_000)
    time.sleep(1)
    gina.screenshot(path=out / "prejoin.png")
    join(gina, server)
    others = [person(browser, server, name) for name in ("omar", "lea")]
    for page in others:
        join(page, server)
    wait_for_tiles(gina, 3)
    quiet(gina)
    gina.screenshot(path=out / "call.png")
    leave(gina)
    phone = person(browser, server, "gina", **PHONE)
    join(phone, server)
    wait_for_tiles(phone, 2)
    quiet(phone)
    phone.screenshot(path=out / "phone.png")
    leave(phone)
    french = person(browser, server, "gina", locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    join(french, server)
    wait_for_tiles(french, 2)
    quiet(french)
    french.screenshot(path=out / "call-fr.png")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with PostgresDatabase() as database, TemporaryDirectory() as static_root:
        server = AppServer(database.url, Path(static_root))
        server.prepare()
        with server:
            server.create_users(PEOPLE)
            server.create_room(SLUG, owner="gina", name="Design review")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    shoot(browser, server, out)
                finally:
                    browser.close()
    for picture in sorted(out.glob("*.png")):
        print(f"{picture.relative_to(ROOT)}: {picture.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
