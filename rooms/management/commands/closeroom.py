"""`manage.py closeroom SLUG [SLUG ...]`: lock rooms and disconnect everyone in them."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rooms import selectors, services


class Command(BaseCommand):
    help = "Lock each room and disconnect everyone in it. Unknown slugs stop the command before any change."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slugs", nargs="+", metavar="SLUG")
        parser.add_argument(
            "--reason",
            default="The room was closed by an administrator.",
            help="What the people disconnected are told.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rooms, unknown = selectors.get_rooms(options["slugs"])
        if unknown:
            names = ", ".join(repr(slug) for slug in unknown)
            raise CommandError(f"No room closed: there is no room {names}. See `manage.py listrooms`.")
        for room in rooms:
            services.close_room(room, reason=options["reason"])
            self.stdout.write(
                self.style.SUCCESS(f"Closed room {room.slug!r}: locked, and everyone in it disconnected.")
            )
