"""Which ICE candidates from a browser may reach Janus.

Janus sends STUN connectivity checks to every address it is given, so a browser could make it
send packets into our own network: loopback, the private network its API listens on,
link-local (cloud metadata at 169.254.169.254). As coturn's `denied-peer-ip` does for relayed
traffic (deploy/turn/turnserver.conf), only globally routable UDP addresses pass, plus the
networks an operator allows (browsers on the same private network as Janus). A browser behind
NAT still connects: its server-reflexive and TURN relay candidates are public.

Both ways in: trickled candidates (`checked_trickle`) and `a=candidate` lines inside an SDP
(`without_refused_candidates`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from aioice import Candidate

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A candidate line is ~100-200 characters; anything far longer is not one.
MAX_CANDIDATE_LENGTH = 512
MAX_MLINE_INDEX = 64


class CandidateRefused(ValueError):
    """A browser's candidate Janus must not get; `code` for the wire, the message for people."""

    code = "bad_candidate"


def refusal(candidate: str, allowed: Sequence[Network] = ()) -> str | None:
    """None if Janus may have this candidate (`candidate:...`, with or without `a=`), else why not."""
    text = candidate.removeprefix("a=")
    text = text[len("candidate:") :] if text.lower().startswith("candidate:") else text
    if len(text) > MAX_CANDIDATE_LENGTH or "\r" in text or "\n" in text:
        return "The candidate is not a single line of at most 512 characters."
    try:
        parsed = Candidate.from_sdp(text)
    except (ValueError, IndexError):
        return "The candidate could not be parsed."
    if parsed.transport.lower() != "udp":
        return "Only UDP candidates are accepted (the media server does not use ICE over TCP)."
    try:
        address = ipaddress.ip_address(parsed.host)
    except ValueError:
        return "Hostname (mDNS) candidates cannot be used by the media server."
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if not address.is_global or address.is_multicast:
        return f"The address {address} is not a public one the media server may send to."
    if not 0 < parsed.port < 65536:
        return "The candidate's port is not valid."
    return None


def checked_trickle(candidate: Any, allowed: Sequence[Network] = ()) -> dict[str, Any]:
    """A browser's trickled candidate as Janus takes it, or `CandidateRefused` saying why not.

    Keeps only `candidate`, `sdpMid` and `sdpMLineIndex`, each checked.
    """
    if not isinstance(candidate, dict) or not isinstance(candidate.get("candidate"), str):
        raise CandidateRefused("A candidate must be an object with a `candidate` string.")
    mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
    if mid is not None and not (isinstance(mid, str) and 0 < len(mid) <= 32 and mid.isprintable()):
        raise CandidateRefused("`sdpMid` must be a short string.")
    if index is not None and not (type(index) is int and 0 <= index <= MAX_MLINE_INDEX):
        raise CandidateRefused(f"`sdpMLineIndex` must be an integer from 0 to {MAX_MLINE_INDEX}.")
    if mid is None and index is None:
        raise CandidateRefused("A candidate needs `sdpMid` or `sdpMLineIndex`.")
    reason = refusal(candidate["candidate"], allowed)
    if reason is not None:
        raise CandidateRefused(reason)
    return {"candidate": candidate["candidate"], "sdpMid": mid, "sdpMLineIndex": index}


def without_refused_candidates(sdp: str, allowed: Sequence[Network] = ()) -> str:
    """`sdp` without the `a=candidate` lines Janus must not get (the rest unchanged)."""
    # splitlines() splits on every separator Janus splits on (it takes "\n", then strips "\r"),
    # so no candidate line can hide inside another; Janus matches the attribute name in any case.
    kept = [
        line
        for line in sdp.splitlines(keepends=True)
        if not line.lower().startswith("a=candidate") or refusal(line.rstrip("\r\n"), allowed) is None
    ]
    return "".join(kept)
