"""`manage.py mediaworker`: run the media worker as its own process (with REDIS_URL)."""

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from mediaworker.worker import MediaWorker


class Command(BaseCommand):
    help = "Record and relay rooms on request, talking to the signaling through the Redis channel layer."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: without it the worker runs inside the web process (`make run`).")
        if settings.MEDIAWORKER_METRICS_PORT:
            start_http_server(settings.MEDIAWORKER_METRICS_PORT)
        self.stdout.write("Media worker running; Ctrl-C or SIGTERM stops it.")
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        worker = MediaWorker()
        task = asyncio.get_running_loop().create_task(worker.run())
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        await asyncio.gather(task, return_exceptions=True)
        self.stdout.write("Finishing the files of stopped recordings…")
        await worker.wait_background()
