"""Benchmarks: tools that print figures, kept out of the pass/fail test suite.

`python -m bench.signaling` measures the signaling server against the seed's
Node.js/Socket.IO server (docs/performance.md). `python -m bench.chaos` puts two web
processes, Redis and PostgreSQL under churn and faults and checks invariants (docs/reliability.md;
its `--short` run is also a slow test, tests/test_chaos.py).
"""
