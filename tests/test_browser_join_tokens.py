"""A signed join token from real browsers: another app sends Dana to `/rooms/<slug>/?jwt=…`;
she has no account here, joins under the token's name with moderator rights and talks with alice."""

import time

import jwt
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


@pytest.mark.timeout(180)
def test_a_moderator_enters_through_a_join_token_and_exchanges_media_with_alice(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "embedded")
    alice = Caller(party.browser, app_server, "alice")
    party.callers.append(alice)
    alice.log_in()
    alice.join(slug)

    claims = {"room": slug, "name": "Dana", "moderator": True, "exp": int(time.time()) + 600, "sub": "lms-7"}
    token = jwt.encode(claims, app_server.env["JOIN_TOKEN_SECRET"], algorithm="HS256")
    dana = Caller(party.browser, app_server, "Dana")  # no account here: never logs in
    party.callers.append(dana)
    dana.page.goto(f"{app_server.url}/rooms/{slug}/?jwt={token}")
    dana.page.wait_for_url(f"{app_server.url}/rooms/{slug}/")  # the token is out of the address bar
    dana.page.get_by_role("button", name="Join").click()
    dana.wait_in_call()

    expect(alice.page.locator("#people-list")).to_contain_text("Dana (guest)")
    eventually(everyone_receives(alice, dana))
    expect(dana.page.locator("#lock-button")).to_be_visible()
