"""The embedded channel layer: Channels' in-memory layer without its O(connections) receive.

`InMemoryChannelLayer.receive` walks every channel and every group member to expire old
messages, on every receive. Each joining consumer receives once, and each room event wakes
every member of the room, so a join storm of N sockets cost O(N^2) (18 % of the server's time
while 3000 sockets joined). Expiry is a clean-up with a 60 s horizon: once a second is enough.
"""

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

EXPIRY_SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """One process's channel layer (no `REDIS_URL`), expiring old messages at most once a second."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + EXPIRY_SWEEP_SECONDS
        super()._clean_expired()
