"""Changing the name others see in calls."""

from django.test import Client
from django.urls import reverse

from accounts.models import User


def test_bob_changes_his_display_name(client: Client, bob: User, room):
    client.force_login(bob)
    assert client.get("/accounts/profile/").context["form"].initial == {"display_name": "Bob B."}

    response = client.post("/accounts/profile/", {"display_name": "  Robert  "})

    assert response.status_code == 303
    bob.refresh_from_db()
    assert bob.display_name == "Robert"
    assert "others now see you as “Robert”" in client.get(response["Location"]).content.decode()
    assert client.get("/rooms/standup/").context["call_config"]["display_name"] == "Robert"


def test_clearing_the_display_name_falls_back_to_the_username(client: Client, bob: User):
    client.force_login(bob)

    client.post("/accounts/profile/", {"display_name": ""})

    bob.refresh_from_db()
    assert bob.public_name == "bob"


def test_a_too_long_display_name_is_a_form_error(client: Client, bob: User):
    client.force_login(bob)

    response = client.post("/accounts/profile/", {"display_name": "B" * 65})

    assert response.status_code == 200
    assert response.context["form"].errors["display_name"]
    bob.refresh_from_db()
    assert bob.display_name == "Bob B."


def test_visitors_are_sent_to_log_in_first(client: Client, db):
    response = client.get("/accounts/profile/")

    assert response["Location"] == f"{reverse('login')}?next=/accounts/profile/"
