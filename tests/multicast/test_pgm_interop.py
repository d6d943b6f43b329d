"""pgm/epgm between gzmq and libzmq (OpenPGM), both ways, inside a private network namespace.

Messages are ``[b"%08d" % i, body]`` with bodies of mixed sizes, some spanning several packets;
a subscriber checks that numbers come in order without a gap and that bodies are intact.
"""

from __future__ import annotations

from typing import Any

import pytest

EPGM = "epgm://127.0.0.1;239.192.1.1:5555"
PGM = "pgm://127.0.0.1;239.192.1.2:5556"
SIZES = [0, 10, 100, 1000, 3000, 10000, 7, 1500]
FAST = {"RATE": 100000, "RECOVERY_IVL": 10000}  # 100 Mbit/s


def side(lab: Any, lib: str, role: str, endpoint: str, count: int, **extra: Any) -> list[Any]:
    # a publisher serves repairs until the subscribers are done (at most "linger" seconds).
    # libzmq's SUB gets no RCVHWM: its pgm_receiver aborts (errno_assert in restart_input,
    # pgm_receiver.cpp:131 in 4.3.4) when its pipe is still full as it resumes, which a busy
    # machine provokes; that is libzmq's bug, not what these tests are about
    limit = {"SNDHWM": 0} if role == "pub" else {"RCVHWM": 0} if lib == "zmq" else {}
    cfg = {"lib": lib, "role": role, "endpoint": endpoint, "count": count, "sizes": SIZES,
           "options": dict(FAST, **limit), "linger": 40, "deadline": 40}
    cfg.update(extra)
    return [lab.gzmq if lib == "gzmq" else lab.oracle, cfg]


def check_all(sub: dict[str, Any], count: int) -> None:
    assert sub["received"] == count, sub
    assert sub["first"] == 0 and sub["in_order"] and sub["intact"], sub


@pytest.mark.timeout(120)
@pytest.mark.parametrize("endpoint,count", [(EPGM, 10000), (PGM, 3000)], ids=["epgm", "pgm"])
@pytest.mark.parametrize("publisher,subscriber", [("gzmq", "zmq"), ("zmq", "gzmq")],
                         ids=["gzmq-to-libzmq", "libzmq-to-gzmq"])
def test_every_message_arrives_in_order(multicast_lab: Any, publisher: str, subscriber: str,
                                        endpoint: str, count: int) -> None:
    outcome = multicast_lab.run({"subs": [side(multicast_lab, subscriber, "sub", endpoint, count)],
                                 "pub": side(multicast_lab, publisher, "pub", endpoint, count)})
    check_all(outcome["subs"][0], count)


@pytest.mark.timeout(120)
def test_libzmq_repairs_from_gzmq_after_5_percent_loss(multicast_lab: Any) -> None:
    """gzmq drops 5% of its original data on the way out; libzmq NAKs, gzmq repairs, and
    everything arrives within RECOVERY_IVL."""
    count = 10000
    outcome = multicast_lab.run({
        "subs": [side(multicast_lab, "zmq", "sub", EPGM, count)],
        "pub": side(multicast_lab, "gzmq", "pub", EPGM, count, loss=0.05)})
    pub, sub = outcome["pub"], outcome["subs"][0]
    check_all(sub, count)
    assert pub["dropped"] > 0.03 * pub["odata"] and pub["naks"] > 0
    assert pub["rdata"] >= pub["dropped"]
    assert sub["seconds"] < FAST["RECOVERY_IVL"] / 1000
    print(f"\nloss test gzmq->libzmq: {pub}, {sub}")


@pytest.mark.timeout(120)
def test_gzmq_repairs_from_libzmq_after_5_percent_loss(multicast_lab: Any) -> None:
    """gzmq's receiver drops 5% of the original data it gets; it NAKs libzmq, which repairs."""
    count = 10000
    outcome = multicast_lab.run({
        "subs": [side(multicast_lab, "gzmq", "sub", EPGM, count, loss=0.05)],
        "pub": side(multicast_lab, "zmq", "pub", EPGM, count)})
    sub = outcome["subs"][0]
    check_all(sub, count)
    assert sub["dropped"] > 0 and sub["naks"] > 0 and sub["repaired"] >= sub["dropped"] * 0.9
    assert sub["lost"] == 0
    assert sub["seconds"] < FAST["RECOVERY_IVL"] / 1000
    print(f"\nloss test libzmq->gzmq: {sub}")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("publisher,late", [("zmq", "gzmq"), ("gzmq", "zmq")])
def test_a_late_joiner_starts_at_a_message_boundary(multicast_lab: Any, publisher: str,
                                                     late: str) -> None:
    """The late subscriber starts when the stream is well under way (messages spanning
    packets included) and its first message is whole, later ones in order."""
    count = 4000
    sizes = [10, 3000, 100, 1000]  # ~1.7 s of data at 20 Mbit/s
    pub = side(multicast_lab, publisher, "pub", EPGM, count, sizes=sizes,
               options={"RATE": 20000, "SNDHWM": 0})
    sub = side(multicast_lab, late, "sub", EPGM, count, deadline=10, stop_at=count - 1,
               sizes=sizes)
    outcome = multicast_lab.run({"pub": pub, "late_subs": [sub + [1.2]]})
    result = outcome["subs"][0]
    assert result["first"] > 0 and result["last"] == count - 1, result  # joined midway
    assert result["received"] == count - result["first"], result
    assert result["in_order"] and result["intact"], result


@pytest.mark.timeout(120)
def test_gzmq_to_gzmq_xpub_xsub_options_and_junk(multicast_lab: Any) -> None:
    """XPUB to XSUB; MULTICAST_HOPS/LOOP/MAXTPDU reach the socket and the packet size; random
    datagrams sent to the group meanwhile are dropped, and everything else still arrives."""
    count = 2000
    pub = side(multicast_lab, "gzmq", "pub", EPGM, count, socket="XPUB",
               options={"RATE": 100000, "SNDHWM": 0, "MULTICAST_HOPS": 3,
                        "MULTICAST_MAXTPDU": 1000, "MULTICAST_LOOP": 0})
    sub = side(multicast_lab, "gzmq", "sub", EPGM, count, socket="XSUB", junk=300)
    outcome = multicast_lab.run({"subs": [sub], "pub": pub})
    check_all(outcome["subs"][0], count)
    assert outcome["subs"][0]["bad"] >= 100  # the junk sent to the group was dropped
    assert outcome["pub"]["ttl"] == 3 and outcome["pub"]["loop"] == 0
    assert outcome["pub"]["tsdu"] == 1000 - 20 - 8 - 16 - 8 - 20
