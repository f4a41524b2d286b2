"""Logging in and out."""

from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD


def test_the_login_page_links_to_sign_up_keeping_next(client: Client, db):
    response = client.get("/accounts/login/?next=/rooms/standup/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"{reverse('signup')}?next=/rooms/standup/" in page
    assert 'name="username"' in page and 'name="password"' in page


def test_bob_logs_in_and_lands_where_he_was_going(client: Client, bob: User, room):
    response = client.post("/accounts/login/?next=/rooms/standup/", {"username": "bob", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/rooms/standup/"
    assert client.get("/rooms/standup/").status_code == 200


def test_login_without_next_goes_to_the_lobby(client: Client, bob: User):
    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})

    assert response["Location"] == "/"


def test_mallory_with_a_wrong_password_is_told_what_to_check(client: Client, bob: User):
    response = client.post("/accounts/login/", {"username": "bob", "password": "guess"})

    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_logging_out_is_a_post(client: Client, bob: User):
    client.force_login(bob)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not client.get("/").context["user"].is_authenticated
