"""Deleting a room or a recording deletes its files, whichever way it is deleted, and only once
the deletion commits; the worker purges what is past retention by itself."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chat import services as chat_services
from chat.models import ChatMessage
from mediaworker import selectors
from mediaworker.models import Recording
from mediaworker.tests.conftest import poll
from mediaworker.tests.test_files_and_retention import make_recording
from mediaworker.worker import MediaWorker
from rooms import services as room_services
from rooms.models import Room

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs as in production


def files_of(recording: Recording) -> Path:
    directory = selectors.recording_directory(recording)
    assert (directory / "composite.ogg").is_file()
    return directory


def test_deleting_a_room_deletes_its_recordings_files(room: Room, alice: User) -> None:
    directory = files_of(make_recording(room, alice, days_ago=1))
    room_services.delete_room(room)
    assert not directory.exists()
    assert Recording.objects.count() == 0


def test_a_bulk_delete_deletes_every_recordings_files(room: Room, alice: User) -> None:
    directories = [files_of(make_recording(room, alice, days_ago=days)) for days in (1, 2)]
    Recording.objects.all().delete()
    assert not any(directory.exists() for directory in directories)


def test_a_rolled_back_deletion_keeps_the_files(room: Room, alice: User) -> None:
    recording = make_recording(room, alice, days_ago=1)
    directory = files_of(recording)
    with pytest.raises(RuntimeError), transaction.atomic():
        room_services.delete_room(room)
        raise RuntimeError("something failed after the delete")
    assert Recording.objects.filter(pk=recording.pk).exists()
    assert (directory / "composite.ogg").is_file()


def test_staff_deleting_recordings_in_the_admin_deletes_their_files(room: Room, alice: User) -> None:
    staff = User.objects.create_superuser(username="root", password="x" * 12)
    one, two = (make_recording(room, alice, days_ago=days) for days in (1, 2))
    directories = [files_of(one), files_of(two)]
    admin = Client()
    admin.force_login(staff)
    response = admin.post(f"/admin/mediaworker/recording/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not directories[0].exists() and directories[1].exists()
    response = admin.post(
        "/admin/mediaworker/recording/", {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not directories[1].exists()
    assert Recording.objects.count() == 0


def old_chat_line(room: Room, days_ago: int, text: str) -> ChatMessage:
    line, _ = chat_services.post_message(room.slug, None, "Bob", text)
    ChatMessage.objects.filter(pk=line.pk).update(created=timezone.now() - timedelta(days=days_ago))
    return line


async def test_the_worker_purges_old_recordings_and_chat_by_itself_at_every_interval(
    settings: object, room: Room, alice: User
) -> None:
    settings.RECORDING_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    settings.CHAT_RETENTION_DAYS = 7  # type: ignore[attr-defined]
    settings.RETENTION_PURGE_INTERVAL_SECONDS = 0.5  # type: ignore[attr-defined]
    setup = database_sync_to_async(make_recording)
    old, recent = await setup(room, alice, days_ago=31), await setup(room, alice, days_ago=2)
    await database_sync_to_async(old_chat_line)(room, 8, "last week's plans")
    await database_sync_to_async(old_chat_line)(room, 1, "yesterday's plans")

    worker = MediaWorker()  # nobody runs `purgerecordings`
    task = asyncio.get_running_loop().create_task(worker.run())
    try:
        await poll(lambda: not selectors.recording_directory(old).exists())
        # Past the first purge: later ones come by themselves, at the interval.
        later = await setup(room, alice, days_ago=40)
        await poll(lambda: not selectors.recording_directory(later).exists())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    remaining = await database_sync_to_async(lambda: list(Recording.objects.values_list("pk", flat=True)))()
    assert remaining == [recent.pk]
    assert selectors.recording_directory(recent).exists()
    lines = await database_sync_to_async(lambda: list(ChatMessage.objects.values_list("text", flat=True)))()
    assert lines == ["yesterday's plans"]
