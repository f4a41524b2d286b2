"""`manage.py createapikey NAME [--owner USER]`: a REST API key, printed once."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from api import services


class Command(BaseCommand):
    help = "Make a REST API key and print it once (only its hash is kept). docs/api.md"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the key is for, e.g. the app that will use it.")
        parser.add_argument(
            "--owner", help="Username: the key acts as this user, on their rooms. Without: a site key, every room."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["owner"]:
            owner = User.objects.filter(username=options["owner"]).first()
            if owner is None:
                raise CommandError(f"No user named {options['owner']!r}: check the spelling.")
        try:
            key, raw = services.create_api_key(options["name"], owner)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        self.stderr.write(f"API key {key.name!r} made; it is shown only now, keep it secret:")
        self.stdout.write(raw)
