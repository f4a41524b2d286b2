"""`manage.py createroom SLUG [SLUG ...]`: create rooms, all or none."""

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from rooms import services
from rooms.models import RoomMode


class Command(BaseCommand):
    help = "Create one room per SLUG. Every slug is checked first; then all are created, or none."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slugs", nargs="+", metavar="SLUG", help="The room's address: /rooms/SLUG/.")
        parser.add_argument("--name", default="", help="Display name for every room created (default: its slug).")
        parser.add_argument("--owner", metavar="USERNAME", help="The user who manages the rooms.")
        parser.add_argument("--max-participants", type=int, metavar="N", help="Places in each room.")
        parser.add_argument("--password", default=None, help="Password people must enter to join.")
        parser.add_argument("--audio-only", action="store_true", help="No video in these rooms.")
        parser.add_argument(
            "--mode",
            choices=RoomMode.values,
            default=RoomMode.MESH,
            help="How media travels: mesh (direct), relay (through the media worker) or auto.",
        )
        parser.add_argument(
            "--exist-ok", action="store_true", help="Skip slugs that already have a room instead of failing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slugs: list[str] = list(dict.fromkeys(options["slugs"]))
        try:
            created = services.create_rooms(
                slugs,
                exist_ok=options["exist_ok"],
                name=options["name"],
                owner=self._owner(options["owner"]),
                password=options["password"],
                max_participants=options["max_participants"],
                audio_only=options["audio_only"],
                mode=options["mode"],
            )
        except ValidationError as error:
            raise CommandError("No room was created:\n  " + "\n  ".join(error.messages)) from None
        made = {room.slug for room in created}
        for slug in (slug for slug in slugs if slug not in made):
            self.stdout.write(f"Room {slug!r} already exists; left unchanged.")
        for room in created:
            self.stdout.write(self.style.SUCCESS(f"Created room {room.slug!r} ({room.name}): /rooms/{room.slug}/"))

    def _owner(self, username: str | None) -> User | None:
        if username is None:
            return None
        owner = User.objects.filter(username=username).first()
        if owner is None:
            raise CommandError(f"There is no user {username!r}: check the spelling, or create them first.")
        return owner
