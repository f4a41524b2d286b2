"""What a lost Redis or a lost database raises: one list for the pages, the socket and the worker.

`OUTAGES` is what the client libraries raise when Redis or PostgreSQL is restarting or
unreachable. `BACKEND_ERRORS` adds the socket-level errors an asyncio client can surface
directly (a connection reset mid-reply); only code that talks to those services over its own
sockets (the signaling consumers, the media worker) catches it, so a view's unrelated file
error never reads as an outage.
"""

import redis.exceptions
from django import db

OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, db.OperationalError, db.InterfaceError)
BACKEND_ERRORS = (*OUTAGES, ConnectionError, OSError)
