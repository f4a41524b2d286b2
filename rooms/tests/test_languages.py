"""The pages speak French to a browser that asks for it (Accept-Language, or the language switch),
and English to everyone else; a refusal keeps its code in either language."""

import html
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from conftest import PASSWORD
from rooms.models import Room

FRENCH = {"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"}


def page(response: Any) -> str:
    """The page's text as a person reads it: entities decoded, no-break spaces as spaces."""
    return html.unescape(response.content.decode()).replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture
def alice_browser(alice: User) -> Client:
    browser = Client()
    browser.force_login(alice)
    return browser


def test_the_lobby_is_in_french_for_a_french_browser(alice_browser: Client, room: Room):
    text = page(alice_browser.get("/", headers=FRENCH))

    assert '<html lang="fr">' in text
    assert "Créer une salle" in text and "Se déconnecter" in text and "Rejoindre" in text
    assert "Create a room" not in text


def test_the_lobby_stays_in_english_without_a_language_we_have(alice_browser: Client, room: Room):
    for asked in ({}, {"accept-language": "de-DE,de;q=0.9"}):
        text = page(alice_browser.get("/", headers=asked))
        assert '<html lang="en">' in text
        assert "Create a room" in text and "Créer une salle" not in text


def test_the_sign_in_page_and_its_error_are_in_french(alice: User):
    browser = Client()
    assert "Se connecter" in page(browser.get("/accounts/login/", headers=FRENCH))

    refused = page(browser.post("/accounts/login/", {"username": "alice", "password": "wrong"}, headers=FRENCH))

    assert "Ce nom d'utilisateur et ce mot de passe ne correspondent à aucun compte" in refused
    assert "do not match an account" not in refused


def test_the_call_page_is_in_french_and_loads_the_french_catalog(alice_browser: Client, room: Room):
    text = page(alice_browser.get("/rooms/standup/", headers=FRENCH))

    assert "Rejoindre l'appel" in text and "Couper le micro" in text and "Raccourcis clavier" in text
    assert 'src="/jsi18n/?language=fr"' in text
    catalog = Client().get("/jsi18n/?language=fr", headers=FRENCH).content.decode()
    assert '"Mute": "Couper le micro"' in catalog and '"Raise hand": "Lever la main"' in catalog


def test_the_language_switch_sticks_until_switched_back(alice_browser: Client, room: Room):
    switched = alice_browser.post("/i18n/setlang/", {"language": "fr", "next": "/rooms/standup/"})

    assert switched.status_code == 302 and switched["Location"] == "/rooms/standup/"
    # The browser still asks for English: the switch wins, on every page after it.
    english = {"accept-language": "en-US,en;q=0.9"}
    assert "Rejoindre l'appel" in page(alice_browser.get("/rooms/standup/", headers=english))
    assert "Créer une salle" in page(alice_browser.get("/", headers=english))

    alice_browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Create a room" in page(alice_browser.get("/", headers=FRENCH))


def test_the_switch_offers_each_language_in_its_own_name(alice_browser: Client):
    text = page(alice_browser.get("/", headers=FRENCH))

    assert '<button type="submit" name="language" value="en" lang="en" class="link">English</button>' in text
    assert 'value="fr" lang="fr" class="link" aria-current="true" disabled>Français</button>' in text


def test_a_form_error_comes_in_french_under_its_field(alice_browser: Client):
    response = alice_browser.post("/", {"slug": "daily standup!", "max_participants": 1}, headers=FRENCH)

    text = page(response)
    assert response.status_code == 200
    assert "cet identifiant devient l'adresse de la salle" in text
    assert "Une salle accueille entre 2 et" in text
    assert "Use only letters" not in text


def test_a_flash_message_comes_in_french(alice_browser: Client, room: Room):
    response = alice_browser.post("/rooms/standup/lock/", {"locked": "1"}, follow=True, headers=FRENCH)

    assert "« Daily standup » est verrouillée : personne de nouveau ne peut y entrer" in page(response)


def test_a_refused_page_is_in_french_with_its_status(alice_browser: Client):
    response = alice_browser.get("/rooms/no-such-room/", headers=FRENCH)

    assert response.status_code == 404
    assert "Salle introuvable" in page(response)
    assert "Il n'y a pas de salle à l'adresse /rooms/no-such-room/" in page(response)


def test_an_http_refusal_keeps_its_code_and_says_why_in_french(db: None):
    english = Client().get("/ice-servers/?room=standup")
    french = Client().get("/ice-servers/?room=standup", headers=FRENCH)

    assert english.status_code == french.status_code == 403
    assert english.json()["code"] == french.json()["code"] == "not_in_room"
    assert english.json()["message"].startswith("Sign in, or open the room's invite link")
    assert french.json()["message"].startswith("Connectez-vous, ou ouvrez le lien d'invitation de la salle")


def test_signing_up_welcomes_in_french(db: None):
    browser = Client()
    form = {"username": "dominique", "display_name": "Dominique", "password1": PASSWORD, "password2": PASSWORD}

    response = browser.post("/accounts/signup/", form, follow=True, headers=FRENCH)

    assert "Bienvenue, Dominique ! Rejoignez une salle ou créez la vôtre." in page(response)
