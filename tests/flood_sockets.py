"""Open room sockets without a session, as fast as the server answers:
`python tests/flood_sockets.py PORT CLIENTS SECONDS`. Each of CLIENTS loops (connect, read the
refusal, close) for SECONDS; then it prints how many refusals it read and how many attempts
failed otherwise. Only ever 127.0.0.1, bounded in clients and time: the flood of
tests/test_multiprocess_limits.py, in a process of its own so it does not share the event loop
of the person whose join the test times."""

import asyncio
import sys
import time

import websockets
from websockets.typing import Origin


async def client(port: int, until: float) -> tuple[int, int]:
    """(refusals read, attempts that failed otherwise: the server dropped the handshake)."""
    refused = failed = 0
    while time.monotonic() < until:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/rooms/standup/", origin=Origin(f"http://127.0.0.1:{port}"), open_timeout=10
            ) as ws:
                await ws.recv()
                refused += 1
        except (TimeoutError, OSError, websockets.WebSocketException):
            failed += 1
    return refused, failed


async def main(port: int, clients: int, seconds: float) -> None:
    until = time.monotonic() + seconds
    counts = await asyncio.gather(*(client(port, until) for _ in range(clients)))
    print(sum(refused for refused, _ in counts), sum(failed for _, failed in counts), flush=True)


if __name__ == "__main__":
    port, clients, seconds = int(sys.argv[1]), min(int(sys.argv[2]), 200), min(float(sys.argv[3]), 120)
    asyncio.run(main(port, clients, seconds))
