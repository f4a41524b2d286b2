"""Benchmarks: tools that print figures, kept out of the pass/fail test suite.

`python -m bench.signaling` measures the signaling server against the seed's
Node.js/Socket.IO server (docs/performance.md).
"""
