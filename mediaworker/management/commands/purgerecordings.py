"""`manage.py purgerecordings [--days N]`: delete recordings older than the retention period.

The media worker already does this (and purges old chat) at start and every
RETENTION_PURGE_INTERVAL_SECONDS; this command is for doing it by hand, or with other `--days`."""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from mediaworker import services


class Command(BaseCommand):
    help = "Delete recordings (files and rows) started more than RECORDING_RETENTION_DAYS days ago."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Override RECORDING_RETENTION_DAYS.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.RECORDING_RETENTION_DAYS
        count = services.purge_recordings(days)
        self.stdout.write(self.style.SUCCESS(f"Deleted {count} recording(s) older than {days} days."))
