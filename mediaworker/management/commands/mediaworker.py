"""`manage.py mediaworker`: run the media worker as its own process (with REDIS_URL)."""

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from mediaworker.worker import MediaWorker


class Command(BaseCommand):
    help = "Record rooms on request, talking to the signaling through the Redis channel layer."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: without it the worker runs inside the web process (`make run`).")
        self.stderr.write(
            "Note: recording with REDIS_URL is not enabled yet; the signaling refuses it with "
            "`recording_unavailable` (see docs/protocol.md). Run single-process to record."
        )
        if settings.MEDIAWORKER_METRICS_PORT:
            start_http_server(settings.MEDIAWORKER_METRICS_PORT)
        self.stdout.write("Media worker running; Ctrl-C or SIGTERM stops it (recordings in progress are closed).")
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        worker = MediaWorker()
        task = asyncio.get_running_loop().create_task(worker.run())
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        await asyncio.gather(task, return_exceptions=True)
        self.stdout.write("Finishing the files of stopped recordings…")
        await worker.wait_background()
