"""Fixtures for end-to-end tests: the real app in a subprocess over a fresh PostgreSQL
database, and headless Chromium with fake camera and microphone.

On failure, the log of every app server the test used is attached to the report.
"""

import http.server
import socketserver
import threading
from collections.abc import Generator, Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.live_server import POSTGRES_ADMIN_URL, AppServer, PostgresDatabase

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_database() -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    database = PostgresDatabase()
    try:
        database.create()
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is needed (run `make services`): {error}")
    yield database
    database.drop()


@pytest.fixture(scope="session")
def app_server(live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One production-like app process (DEBUG off, in-memory channel layer), migrated and serving."""
    server = AppServer(live_database.url, tmp_path_factory.mktemp("static"))
    server.prepare()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium whose getUserMedia gets a synthetic camera and microphone without asking.

    Per module, not per session: Playwright's sync API keeps an event loop running in this
    thread while it lives, which would break the asyncio tests collected after it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if not media_ready(browser):
            # Seen in CI: a fresh Chromium's first getUserMedia (fake devices) never settled, and
            # the first caller of the module sat on the Join screen. Start the tests on one whose
            # media stack answers; the tests' own captures then run as before.
            browser.close()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def media_ready(browser: Browser, timeout_ms: int = 15_000) -> bool:
    """Capture the fake camera and microphone once on a blank page from 127.0.0.1 (a secure
    context, as the call page is); False if the browser does not answer in time."""
    with socketserver.TCPServer(("127.0.0.1", 0), _BlankPage) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            return bool(
                page.evaluate(
                    """(ms) => Promise.race([
                        navigator.mediaDevices.getUserMedia({audio: true, video: true})
                          .then((stream) => { stream.getTracks().forEach((t) => t.stop()); return true; }),
                        new Promise((resolve) => setTimeout(() => resolve(false), ms)),
                    ])""",
                    timeout_ms,
                )
            )
        finally:
            context.close()
            server.shutdown()


class _BlankPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>media check</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, AppServer):
                report.sections.append((f"{value.name} log ({value.log_path})", value.log_tail()))
    return report
