"""mallory guesses account passwords (issue 12): the sign-in forms, /accounts/login/ and
/admin/login/, take LOGIN_ATTEMPTS_PER_MINUTE posts per address, counted together."""

from django.test import Client

from accounts.models import User
from conftest import PASSWORD

MALLORY_ADDRESS = "203.0.113.66"


def sign_in(client: Client, path: str, password: str, address: str = MALLORY_ADDRESS) -> int:
    return client.post(path, {"username": "bob", "password": password}, REMOTE_ADDR=address).status_code


def test_the_eleventh_sign_in_in_a_minute_is_refused_with_a_sentence(client: Client, bob: User):
    assert [sign_in(client, "/accounts/login/", f"guess-{n}") for n in range(10)] == [200] * 10

    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR=MALLORY_ADDRESS)

    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "Try again in a minute" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_the_admin_login_counts_with_the_accounts_login(client: Client, bob: User):
    for n in range(5):
        sign_in(client, "/accounts/login/", f"guess-{n}")
    admin_tries = [sign_in(client, "/admin/login/", f"admin-guess-{n}") for n in range(6)]

    assert admin_tries == [200] * 5 + [429]


def test_the_admin_login_alone_is_limited(client: Client, bob: User):
    statuses = [sign_in(client, "/admin/login/", f"guess-{n}") for n in range(11)]

    assert statuses == [200] * 10 + [429]


def test_bob_from_his_own_address_still_signs_in(client: Client, bob: User):
    for n in range(11):
        sign_in(client, "/accounts/login/", f"guess-{n}")

    response = Client().post("/accounts/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302


def test_showing_the_form_is_not_counted(client: Client, bob: User):
    for _ in range(20):
        assert client.get("/accounts/login/", REMOTE_ADDR=MALLORY_ADDRESS).status_code == 200
    assert sign_in(client, "/accounts/login/", PASSWORD) == 302
