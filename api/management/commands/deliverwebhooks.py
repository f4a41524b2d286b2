"""`manage.py deliverwebhooks`: send queued webhook events, with retries, until stopped."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from api import webhooks


class Command(BaseCommand):
    help = "Send queued webhook events (docs/webhooks.md); run one or more next to the web processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--for-seconds", type=float, default=None, help="Stop after this long (default: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.write("sending webhook events")
        webhooks.run(stop_after=options["for_seconds"])
