"""Reconnecting seen from a real browser: while the server is away the banner counts down to
the next try and offers "Try now"; once it listens again the call is back within 3 s."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.test_browser_call import (  # noqa: F401 - fixtures
    DEADLINE,
    Party,
    new_room,
    people,
    restartable_party,
    restartable_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BACK_WITHIN_S = 3.0


@pytest.mark.timeout(180)
def test_the_banner_counts_down_try_now_tries_and_the_call_is_back_within_3_s(
    restartable_party: Party,  # noqa: F811 - the fixture imported above
):
    server = restartable_party.server
    slug = new_room(server, "comeback")
    alice, bob = restartable_party.arrive("alice", slug), restartable_party.arrive("bob", slug)

    server.stop()
    alice.page.wait_for_function("() => window.audioExchange.state === 'reconnecting'", timeout=DEADLINE * 1000)
    banner = alice.page.locator("#call-banner")
    expect(banner).to_contain_text("Connection to the server lost; reconnecting")
    expect(banner.locator(".countdown")).to_have_text(re.compile(r"^ in \d s…$"))
    tries = alice.page.evaluate("() => window.__sockets.length")
    banner.get_by_role("button", name="Try now").click()
    alice.page.wait_for_function("(n) => window.__sockets.length > n", arg=tries, timeout=1000)

    server.start()  # returns once it answers HTTP
    listening = time.monotonic()
    for caller in (alice, bob):
        caller.page.wait_for_function(
            "() => window.audioExchange.state === 'in-call'", timeout=DEADLINE * 1000, polling=50
        )
    back_after = time.monotonic() - listening
    print(f"both calls back {back_after:.2f} s after the server listened again")
    assert back_after <= BACK_WITHIN_S, f"back after {back_after:.1f} s"
    expect(banner).to_be_hidden()
