"""The user admin shows and edits the display name."""

from django.test import Client

from accounts.models import User


def _superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def test_the_user_pages_load_for_a_superuser(db, bob: User):
    client = _superuser_client()

    listing = client.get("/admin/accounts/user/?q=bob")
    assert listing.status_code == 200
    assert "Bob B." in listing.content.decode()
    assert client.get("/admin/accounts/user/add/").status_code == 200
    change = client.get(f"/admin/accounts/user/{bob.pk}/change/")
    assert change.status_code == 200
    assert 'name="display_name"' in change.content.decode()


def test_a_superuser_adds_a_user_with_a_display_name(db):
    client = _superuser_client()

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "dave",
            "display_name": "Dave D.",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    dave = User.objects.get(username="dave")
    assert dave.display_name == "Dave D." and dave.check_password("a long passphrase 42")


def test_the_admin_index_loads(db):
    assert _superuser_client().get("/admin/").status_code == 200
