"""Signing up: an account, logged in, and back to where you were going."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import User
from conftest import PASSWORD


def _form(**changes: str) -> dict[str, str]:
    form = {"username": "dave", "display_name": "Dave D.", "password1": PASSWORD, "password2": PASSWORD}
    form.update(changes)
    return form


def test_the_signup_page_links_to_log_in(client: Client, db):
    response = client.get("/accounts/signup/?next=/rooms/standup/")

    assert response.status_code == 200
    assert f"{reverse('login')}?next=/rooms/standup/" in response.content.decode()


def test_dave_signs_up_and_is_logged_in_and_sent_to_the_lobby(client: Client, db):
    response = client.post("/accounts/signup/", _form())

    assert response.status_code == 303
    assert response["Location"] == "/"
    dave = User.objects.get(username="dave")
    assert dave.display_name == "Dave D." and dave.check_password(PASSWORD)
    lobby = client.get("/")
    assert lobby.context["user"] == dave
    assert "Welcome, Dave D.!" in lobby.content.decode()


def test_signup_returns_to_next(client: Client, room):
    response = client.post("/accounts/signup/?next=/rooms/standup/", _form())

    assert response["Location"] == "/rooms/standup/"
    assert client.get("/rooms/standup/").status_code == 200


def test_signup_ignores_a_next_on_another_site(client: Client, db):
    response = client.post("/accounts/signup/", {**_form(), "next": "https://evil.example/"})

    assert response["Location"] == "/"


def test_a_taken_username_is_refused_whatever_its_case(client: Client, bob: User):
    response = client.post("/accounts/signup/", _form(username="BOB"))

    assert response.status_code == 200
    assert "That username is taken" in response.context["form"].errors["username"][0]
    assert User.objects.filter(username__iexact="bob").count() == 1


def test_mismatched_or_weak_passwords_are_refused(client: Client, db):
    mismatch = client.post("/accounts/signup/", _form(password2="something else entirely"))
    weak = client.post("/accounts/signup/", _form(password1="password", password2="password"))

    assert mismatch.context["form"].errors["password2"]
    assert weak.context["form"].errors["password2"]
    assert not User.objects.exists()


def test_display_name_is_optional(client: Client, db):
    client.post("/accounts/signup/", _form(display_name=""))

    assert User.objects.get(username="dave").public_name == "dave"


def test_signup_service_refuses_a_username_taken_in_a_race(bob: User):
    with pytest.raises(ValidationError, match="just taken"):
        services.sign_up(username="bob", password=PASSWORD)
