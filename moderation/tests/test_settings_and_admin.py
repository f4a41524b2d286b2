"""The owner names moderators and turns on "Ask to join" on the settings page; the audit
log and bans are visible, read-only, in the admin."""

import pytest
from django.test import Client

from accounts.models import User
from moderation import services
from moderation.models import ModerationAction
from moderation.services import Target
from rooms.models import Room


def settings_form(room: Room, **changes: str) -> dict[str, str]:
    data = {"name": room.name, "description": "", "max_participants": str(room.max_participants)}
    return {**data, **changes}


def test_the_owner_names_moderators_and_asks_newcomers_to_knock(client: Client, alice: User, bob: User, room: Room):
    client.force_login(alice)

    response = client.post("/rooms/standup/edit/", settings_form(room, knock="on", moderators="bob, carol "))

    assert response.status_code == 200, "carol has no account: the form says so"
    assert "No account named carol" in response.content.decode()
    room.refresh_from_db()
    assert not room.knock and not room.moderators.exists(), "nothing saved by half"

    response = client.post("/rooms/standup/edit/", settings_form(room, knock="on", moderators="bob"))
    assert response.status_code == 303
    room.refresh_from_db()
    assert room.knock and list(room.moderators.all()) == [bob]
    assert 'value="bob"' in client.get("/rooms/standup/edit/").content.decode()


def test_a_moderator_sees_the_moderator_controls_and_a_participant_does_not(
    client: Client, alice: User, bob: User, carol: User, room: Room
):
    room.moderators.add(bob)
    client.force_login(bob)
    assert client.get("/rooms/standup/").context["call_config"]["can_moderate"] is True
    client.force_login(carol)
    assert client.get("/rooms/standup/").context["call_config"]["can_moderate"] is False


@pytest.fixture
def admin_browser(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def test_the_audit_log_is_in_the_admin_and_read_only(admin_browser: Client, alice: User, mallory: User, room: Room):
    services.act_on_person("standup", alice.pk, "remove_and_bar", Target(name="Mallory", user_id=mallory.pk))
    entry = ModerationAction.objects.get()

    listing = admin_browser.get("/admin/moderation/moderationaction/").content.decode()
    assert "Alice A." in listing and "removed and barred" in listing and "Mallory" in listing
    assert admin_browser.get("/admin/moderation/moderationaction/add/").status_code == 403
    detail = admin_browser.get(f"/admin/moderation/moderationaction/{entry.pk}/change/")
    assert detail.status_code == 200 and "Save" not in detail.content.decode()
    assert (
        admin_browser.post(f"/admin/moderation/moderationaction/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert ModerationAction.objects.count() == 1
    assert "Mallory" in admin_browser.get("/admin/moderation/ban/").content.decode()
