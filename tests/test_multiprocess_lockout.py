"""The room password lockout holds across processes (issue 12): mallory spreads her guesses
over two app processes sharing one Redis; the eleventh is refused wherever it lands."""

import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.live_server import AppServer, Person, PostgresDatabase

pytestmark = [pytest.mark.slow, pytest.mark.redis_only]

MALLORY, BOB = Person("mallory", "Mallory"), Person("bob", "Bob")
RIGHT = "correct horse battery"


class Visitor:
    """One browser: a cookie jar, and the CSRF token of the last form it was shown."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(url, data=data, headers={"Referer": url})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_form(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        """Show the form at `url` (for its CSRF token), then post `form` to it."""
        status, page = self.open(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            return status, page
        return self.open(url, {**form, "csrfmiddlewaretoken": token.group(1)})

    def log_in(self, server: AppServer, person: Person) -> None:
        status, page = self.post_form(
            f"{server.url}/accounts/login/", {"username": person.username, "password": person.password}
        )
        assert status == 200 and "Log out" in page, f"{person.username} could not log in"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[AppServer]]:
    with PostgresDatabase() as db:
        env = {"REDIS_URL": settings.REDIS_URL, "SECRET_KEY": secrets.token_urlsafe(50)}
        started = [AppServer(db.url, tmp_path / "static", env=env, name=f"app-{n}") for n in ("a", "b")]
        started[0].prepare()
        started[0].create_users([MALLORY, BOB])
        started[0].manage("createroom", "vault", "--owner", "bob", "--password", RIGHT)
        try:
            for server in started:
                server.start()
            yield started
        finally:
            for server in started:
                server.close()


def test_guesses_spread_over_two_processes_are_counted_together(servers: list[AppServer]):
    first, second = servers
    mallory = Visitor()
    mallory.log_in(first, MALLORY)

    statuses = [
        mallory.post_form(f"{server.url}/rooms/vault/", {"password": f"guess-{n}"})[0]
        for n, server in enumerate([first, second] * 5)
    ]
    assert statuses == [403] * 10

    for server in (first, second):
        status, page = mallory.post_form(f"{server.url}/rooms/vault/", {"password": RIGHT})
        assert status == 429, f"{server.name} let the eleventh attempt through"
        assert "Too many wrong passwords" in page and "Try again in" in page
