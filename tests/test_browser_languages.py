"""The call page in French, from a browser whose language is French: the page's own words come
from the templates, the ones the call's scripts write from Django's JavaScript catalog (/jsi18n/).

alice's browser is French, bob's English: each reads the same call in their own language."""

import pytest
from playwright.sync_api import expect

from tests.live_server import PASSWORD, AppServer
from tests.test_browser_call import Caller, Party, new_room, party, people  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def arrive_in_french(everyone: Party, username: str, slug: str) -> Caller:
    """Log in and join through the French pages, as a French browser shows them."""
    caller = Caller(everyone.browser, everyone.server, username, locale="fr-FR")
    everyone.callers.append(caller)
    page = caller.page
    page.goto(f"{everyone.server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{everyone.server.url}/")
    expect(page.get_by_role("heading", name="Créer une salle")).to_be_visible()
    page.goto(f"{everyone.server.url}/rooms/{slug}/")
    join = page.get_by_role("button", name="Rejoindre l'appel")
    expect(join).to_be_enabled()  # the call script is listening
    join.click()
    caller.wait_in_call()
    return caller


@pytest.mark.timeout(180)
def test_the_call_page_speaks_french_to_a_french_browser_and_english_to_an_english_one(
    app_server: AppServer,
    party: Party,  # noqa: F811 - the fixture imported above
):
    slug = new_room(app_server, "francais")
    alice = arrive_in_french(party, "alice", slug)
    page = alice.page
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    toolbar = page.get_by_role("toolbar", name="Commandes de l'appel")
    for label in ("Couper le micro", "Couper la caméra", "Partager l'écran", "Lever la main", "Quitter"):
        expect(toolbar.get_by_role("button", name=label, exact=True)).to_be_visible()
    expect(page.locator("#grid .tile.local .name")).to_have_text("Alice A. (vous)")  # static/js/ui.js

    bob = party.arrive("bob", slug)
    notices = page.locator("#notices")
    expect(notices.locator(".notice", has_text="Bob B. a rejoint l'appel")).to_have_count(1)
    dismiss = "Fermer\u00a0: Bob B. a rejoint l'appel"  # French puts a no-break space before a colon
    expect(notices.get_by_role("button", name=dismiss)).to_be_visible()

    # Written by the scripts as the state changes: from the catalog too.
    toolbar.get_by_role("button", name="Couper le micro", exact=True).click()
    expect(toolbar.get_by_role("button", name="Réactiver le micro", exact=True)).to_be_visible()
    toolbar.get_by_role("button", name="Lever la main").click()
    expect(toolbar.get_by_role("button", name="Baisser la main")).to_be_visible()

    # The same events, in English for bob.
    expect(bob.page.locator("#notices .notice", has_text="Alice A. raised a hand")).to_have_count(1)
    expect(bob.page.locator("html")).to_have_attribute("lang", "en")
    assert alice.protocol_errors() == [] and bob.protocol_errors() == []
