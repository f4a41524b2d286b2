"""Settings for the in-process test suite (pyproject.toml): the project's settings with DEBUG on.

Tests in this process run as a newcomer's machine does, with DEBUG on (so the development
SECRET_KEY is accepted and static files come from the finders). Servers the tests start in
subprocesses (tests/live_server.py AppServer) get DEBUG=0 and a random SECRET_KEY of their own.
"""

import os

os.environ.setdefault("DEBUG", "1")

from audioexchange.settings import *  # noqa: F403
