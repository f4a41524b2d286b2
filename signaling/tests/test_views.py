"""The ICE-server endpoint the pre-join network check uses."""

import pytest
from django.test import Client, override_settings

from accounts.models import User
from signaling.tests.test_ice_and_metrics import TURN

pytestmark = pytest.mark.django_db


@override_settings(**TURN)
def test_logged_in_people_get_fresh_turn_credentials_that_are_never_cached(client: Client, bob: User):
    client.force_login(bob)

    response = client.get("/ice-servers/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["ttl_seconds"] == 600
    assert body["ice_servers"][1]["username"].endswith(f":{bob.pk}")


def test_visitors_are_sent_to_log_in(client: Client):
    response = client.get("/ice-servers/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
