"""Chat is tested through the real room socket, with the signaling tests' browsers."""

from signaling.tests.conftest import connect, fresh_channel_layer

__all__ = ["connect", "fresh_channel_layer"]
