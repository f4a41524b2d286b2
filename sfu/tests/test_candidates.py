"""A browser's ICE candidates reach Janus only with public UDP addresses (or allowed networks)."""

import ipaddress

import pytest

from sfu.candidates import CandidateRefused, checked_trickle, refusal, without_refused_candidates


def line(address: str, transport: str = "udp", kind: str = "host", port: int = 54400) -> str:
    return f"candidate:842163049 1 {transport} 2122260223 {address} {port} typ {kind} generation 0"


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2a00:1450:4001:82b::200e", "::ffff:8.8.4.4"],
)
def test_public_udp_candidates_pass(address: str):
    assert refusal(line(address, kind="srflx")) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "The address 127.0.0.1 is not a public one"),
        ("10.0.0.5", "The address 10.0.0.5 is not a public one"),
        ("169.254.169.254", "The address 169.254.169.254 is not a public one"),
        ("100.64.0.1", "The address 100.64.0.1 is not a public one"),
        ("224.0.1.1", "The address 224.0.1.1 is not a public one"),
        ("::1", "The address ::1 is not a public one"),
        ("fd00::5", "The address fd00::5 is not a public one"),
        ("::ffff:192.168.1.2", "The address 192.168.1.2 is not a public one"),
        ("0.0.0.0", "The address 0.0.0.0 is not a public one"),  # noqa: S104
        ("3f1a2b3c-1111-2222-3333-444455556666.local", "Hostname (mDNS) candidates"),
    ],
)
def test_mallory_cannot_point_janus_at_inner_addresses(address: str, why: str):
    assert (refusal(line(address)) or "").startswith(why)


def test_tcp_oversized_and_garbage_candidates_are_refused():
    assert refusal(line("8.8.8.8", transport="tcp")) == (
        "Only UDP candidates are accepted (the media server does not use ICE over TCP)."
    )
    assert refusal(line("8.8.8.8") + " x" * 300) == "The candidate is not a single line of at most 512 characters."
    assert refusal(line("8.8.8.8") + "\r\na=evil") == "The candidate is not a single line of at most 512 characters."
    assert refusal("candidate:nonsense") == "The candidate could not be parsed."


def test_an_allowed_private_network_passes_for_a_lan_deployment():
    lan = [ipaddress.ip_network("192.168.1.0/24")]

    assert refusal(line("192.168.1.20"), lan) is None
    assert refusal(line("192.168.2.20"), lan) is not None


def test_a_trickled_candidate_is_rebuilt_from_checked_fields_only():
    sent = {"candidate": line("8.8.8.8"), "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "x", "evil": 1}

    assert checked_trickle(sent) == {"candidate": line("8.8.8.8"), "sdpMid": "0", "sdpMLineIndex": 0}


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        ("candidate:1 1 udp 1 8.8.8.8 1 typ host", "A candidate must be an object with a `candidate` string."),
        ({"candidate": line("8.8.8.8")}, "A candidate needs `sdpMid` or `sdpMLineIndex`."),
        ({"candidate": line("8.8.8.8"), "sdpMLineIndex": True}, "`sdpMLineIndex` must be an integer from 0 to 64."),
        ({"candidate": line("8.8.8.8"), "sdpMid": "x" * 33}, "`sdpMid` must be a short string."),
        ({"candidate": line("10.1.2.3"), "sdpMid": "0"}, "The address 10.1.2.3 is not a public one"),
    ],
)
def test_a_bad_trickled_candidate_is_refused_with_a_code_and_a_reason(candidate: object, why: str):
    with pytest.raises(CandidateRefused) as refused:
        checked_trickle(candidate)

    assert refused.value.code == "bad_candidate"
    assert str(refused.value).startswith(why)


def test_inner_addresses_are_removed_from_an_sdp_and_the_rest_is_unchanged():
    sdp = "\r\n".join(
        [
            "v=0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=" + line("192.168.1.20"),
            "a=" + line("8.8.8.8", kind="srflx"),
            "a=" + line("127.0.0.1", transport="tcp"),
            "a=end-of-candidates",
            "",
        ]
    )

    assert without_refused_candidates(sdp) == "\r\n".join(
        ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=" + line("8.8.8.8", kind="srflx"), "a=end-of-candidates", ""]
    )


def test_candidates_hidden_by_bare_newlines_or_upper_case_are_removed_too():
    sdp = "v=0\na=" + line("10.0.0.5") + "\nA=CANDIDATE:" + line("127.0.0.1").split(":", 1)[1] + "\na=mid:0\n"

    assert without_refused_candidates(sdp) == "v=0\na=mid:0\n"
