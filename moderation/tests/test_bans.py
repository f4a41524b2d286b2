"""A barred person stays out: mallory tries to come back, and every way she tries fails.

The server writes the ban when the moderator acts (never the barred person's own socket),
with the invite and the address a guest came in with; removing someone closes every socket
they hold in the room; a person whose socket dropped a moment before is barred all the same;
moderators cannot act on other moderators or on staff."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts.models import User
from invites import services as invite_services
from invites.models import Invite
from moderation.models import Ban, ModerationAction
from moderation.tests.conftest import audit_log, make_room
from moderation.tests.test_moderation import people_in
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)

MALLORY_ADDRESS = "203.0.113.66"
OTHER_ADDRESS = "198.51.100.7"


@database_sync_to_async
def invite_link(room: Room) -> str:
    return invite_services.create_invite(room, room.owner)[1]  # type: ignore[arg-type]


@database_sync_to_async
def guest_session(token: str, name: str, address: str) -> str:
    """A fresh browser opens the invite link from `address` and types `name`: its session cookie."""
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(f"/i/{token}/", {"name": name})
    assert response.status_code == 303, response.content
    return browser.cookies["sessionid"].value


@database_sync_to_async
def bans(room: Room) -> list[tuple[str, str, int | None, str | None]]:
    return list(Ban.objects.filter(room=room).values_list("name", "guest_id", "invite_id", "address"))


async def guest_in(connect: Connect, cookie: str, address: str, *others: Browser) -> Browser:
    ws = await connect(None, cookie=cookie, address=address)
    await ws.join()
    for other in others:
        assert (await other.receive())["type"] == "peer-joined"
    return ws


async def test_a_guest_is_barred_by_the_server_though_her_socket_dropped_just_before(
    connect: Connect, alice: User, room: Room
):
    (alice_ws,) = await people_in(connect, alice)
    token = await invite_link(room)
    cookie = await guest_session(token, "Mal", MALLORY_ADDRESS)
    mallory_ws = await guest_in(connect, cookie, MALLORY_ADDRESS, alice_ws)

    # Her socket drops (she pulls the cable) just as alice presses "Remove and bar".
    await mallory_ws.ws.disconnect(code=1006)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": mallory_ws.peer_id, "resumable": True}
    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_ws.peer_id})

    assert await alice_ws.ws.receive_nothing(), "no error: the action reached someone who had just left"
    invite_id = (await database_sync_to_async(Invite.objects.get)()).pk
    [(name, guest_id, banned_invite, address)] = await bans(room)
    assert (name, banned_invite, address) == ("Mal (guest)", invite_id, MALLORY_ADDRESS) and guest_id
    comeback = await connect(None, cookie=cookie, address=MALLORY_ADDRESS)
    await comeback.expect_error("banned")
    await comeback.expect_close(CloseCode.FORBIDDEN)
    assert await audit_log("standup") == [("Alice A.", "bar", "Mal (guest)")]


async def test_a_user_who_dropped_just_before_is_barred_and_cannot_resume(
    connect: Connect, alice: User, mallory: User, room: Room
):
    alice_ws, mallory_ws = await people_in(connect, alice, mallory)
    await mallory_ws.ws.disconnect(code=1006)
    await alice_ws.receive()

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_ws.peer_id})

    assert await alice_ws.ws.receive_nothing()
    comeback = await connect(mallory)
    await comeback.expect_error("banned")
    await comeback.expect_close(CloseCode.FORBIDDEN)


async def test_a_new_guest_session_through_the_same_invite_from_the_same_address_is_refused(
    connect: Connect, alice: User, room: Room
):
    (alice_ws,) = await people_in(connect, alice)
    token = await invite_link(room)
    # Mallory prepares a second browser before she is barred, and keeps a third for later.
    first = await guest_session(token, "Mal", MALLORY_ADDRESS)
    spare = await guest_session(token, "Not Mal", MALLORY_ADDRESS)
    mallory_ws = await guest_in(connect, first, MALLORY_ADDRESS, alice_ws)

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_ws.peer_id})
    await mallory_ws.expect_error("banned")
    await mallory_ws.expect_close(CloseCode.FORBIDDEN)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": mallory_ws.peer_id}

    # The spare session's socket, from the same address through the same invite: refused.
    spare_ws = await connect(None, cookie=spare, address=MALLORY_ADDRESS)
    error = await spare_ws.expect_error("invite_banned")
    assert "new link" in error["message"]
    await spare_ws.expect_close(CloseCode.FORBIDDEN)
    # A fresh browser on the invite page: turned away before a name is asked, no use spent.
    fresh = Client(REMOTE_ADDR=MALLORY_ADDRESS)
    page = await database_sync_to_async(fresh.get)(f"/i/{token}/")
    assert page.status_code == 403
    text = page.content.decode()
    assert "You may not join this meeting" in text and "invite_banned" in text and "Alice A." in text
    assert (await database_sync_to_async(fresh.post)(f"/i/{token}/", {"name": "Mal again"})).status_code == 403
    # Someone else with the same link, from another address, still comes in.
    colleague = await guest_session(token, "Gus", OTHER_ADDRESS)
    await guest_in(connect, colleague, OTHER_ADDRESS, alice_ws)
    assert (await database_sync_to_async(Invite.objects.get)()).uses == 3


async def test_the_moderator_may_withdraw_the_link_a_barred_guest_came_in_with(
    connect: Connect, alice: User, mallory: User, room: Room
):
    alice_ws, mallory_user_ws = await people_in(connect, alice, mallory)
    token = await invite_link(room)
    guest_ws = await guest_in(connect, await guest_session(token, "Mal", MALLORY_ADDRESS), MALLORY_ADDRESS)
    for ws in (alice_ws, mallory_user_ws):
        assert (await ws.receive())["peer"] == {"peer_id": guest_ws.peer_id, "name": "Mal (guest)", "guest": True}

    # Withdrawing only means something for a guest: for an account it is refused, and nothing happens.
    bar_user = {"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_user_ws.peer_id}
    await alice_ws.send({**bar_user, "withdraw_invite": True})
    await alice_ws.expect_error("no_invite")
    assert await mallory_user_ws.ws.receive_nothing()
    await alice_ws.send({"type": "moderate", "action": "remove", "peer_id": guest_ws.peer_id, "withdraw_invite": True})
    await alice_ws.expect_error("bad_field")

    await alice_ws.send(
        {"type": "moderate", "action": "remove_and_bar", "peer_id": guest_ws.peer_id, "withdraw_invite": True}
    )
    await guest_ws.expect_error("banned")
    page = await database_sync_to_async(Client(REMOTE_ADDR=OTHER_ADDRESS).get)(f"/i/{token}/")
    assert page.status_code == 410 and "withdrew this invite" in page.content.decode()
    entry = await database_sync_to_async(ModerationAction.objects.get)()
    assert entry.details["invite_withdrawn"] is True


async def test_removing_someone_closes_every_socket_they_hold_in_the_room(
    connect: Connect, alice: User, mallory: User, room: Room
):
    alice_ws, tab_one = await people_in(connect, alice, mallory)
    tab_two = await enter(connect, mallory)  # a second tab, a second device
    for ws in (alice_ws, tab_one):
        assert (await ws.receive())["type"] == "peer-joined"

    await alice_ws.send({"type": "moderate", "action": "remove", "peer_id": tab_one.peer_id})

    for tab in (tab_one, tab_two):
        await tab.expect_error("removed")
        await tab.expect_close(CloseCode.FORBIDDEN)
    left = {(await alice_ws.receive())["peer_id"] for _ in range(2)}
    assert left == {tab_one.peer_id, tab_two.peer_id}
    assert await alice_ws.ws.receive_nothing()


async def test_barring_closes_her_sockets_waiting_at_the_door_too(connect: Connect, alice: User, mallory: User):
    await make_room("standup", alice, knock=True)
    (alice_ws,) = await people_in(connect, alice)
    inside = await connect(mallory)
    assert (await inside.receive())["type"] == "waiting"
    knock_id = (await alice_ws.receive())["peer"]["peer_id"]
    await alice_ws.send({"type": "moderate", "action": "admit", "peer_id": knock_id})
    await inside.join()
    knocking = await connect(mallory)  # a second tab knocks
    assert (await knocking.receive())["type"] == "waiting"

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": inside.peer_id})

    for ws in (inside, knocking):
        await ws.expect_error("banned")
        await ws.expect_close(CloseCode.FORBIDDEN)


async def test_a_moderator_cannot_act_on_another_moderator_or_on_staff(
    connect: Connect, alice: User, bob: User, carol: User, mallory: User
):
    room = await make_room("standup", alice, moderators=(bob, mallory))
    carol.is_staff = True
    await database_sync_to_async(carol.save)()
    alice_ws, bob_ws, carol_ws, mallory_ws = await people_in(connect, alice, bob, carol, mallory)

    for action in ("ask_mute", "mute", "remove", "remove_and_bar"):
        await mallory_ws.send({"type": "moderate", "action": action, "peer_id": bob_ws.peer_id})
        error = await mallory_ws.expect_error("protected_moderator")
        assert "Bob B." in error["message"]
        await mallory_ws.send({"type": "moderate", "action": action, "peer_id": carol_ws.peer_id})
        await mallory_ws.expect_error("protected_staff")
    assert await bob_ws.ws.receive_nothing() and await carol_ws.ws.receive_nothing()
    assert await audit_log("standup") == []
    assert await bans(room) == []

    # The owner and staff do act on moderators.
    await alice_ws.send({"type": "moderate", "action": "mute", "peer_id": bob_ws.peer_id})
    assert await bob_ws.receive() == {"type": "mute", "forced": True, "by": "Alice A."}
    await carol_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_ws.peer_id})
    await mallory_ws.expect_error("banned")
    assert [name for name, *_ in await bans(room)] == ["Mallory"]


async def test_a_moderator_removing_her_own_other_tab_is_refused_and_keeps_both(
    connect: Connect, alice: User, room: Room
):
    first, second = await people_in(connect, alice, alice)

    await first.send({"type": "moderate", "action": "remove", "peer_id": second.peer_id})

    await first.expect_error("unknown_peer")
    assert await second.ws.receive_nothing(), "her other tab stays in the call"
    assert await audit_log("standup") == []
