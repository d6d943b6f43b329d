"""The sender's transmit window and the receiver's NAK state machine, wired together in memory
with a simulated clock and a lossy "network"; plus hostile input."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from gzmq.pgm import packet
from gzmq.pgm.receiver import Receiver
from gzmq.pgm.sender import Sender, max_tsdu, window_sqns

GSI = b"\x01\x02\x03\x04\x05\x06"
GROUP, NLA, PORT = "239.192.1.1", "127.0.0.1", 5555


def pair(**options: int) -> tuple[Sender, Receiver]:
    sender = Sender(gsi=GSI, sport=4242, dport=PORT, nla=NLA, group=GROUP, **options)
    receiver = Receiver(dport=PORT, group=GROUP, rng=random.Random(7),
                        rate=options.get("rate", 100), recovery_ivl=options.get("recovery_ivl",
                                                                                10000))
    return sender, receiver


def run(sender: Sender, receiver: Receiver, drop: "callable", until: float,
        step: float = 0.01) -> list[list[bytes]]:
    """Advance time, moving packets both ways; ``drop(datagram)`` decides losses."""
    got: list[list[bytes]] = []
    now = 0.0
    while now < until:
        for datagram in sender.poll(now):
            if not drop(datagram):
                receiver.receive(datagram, now)
        for datagram, _to in receiver.poll(now):
            sender.receive(datagram, now)
        got += receiver.take_messages()
        now += step
    return got


def test_window_and_packet_sizes_follow_libzmq() -> None:
    assert window_sqns(100, 10000, 1500) == 80  # libzmq's compute_sqns (integer kB/s)
    assert max_tsdu(1500, udp=True) == 1428 and max_tsdu(1500, udp=False) == 1436
    sender, _ = pair()
    assert sender.window_size == 80


def test_everything_arrives_in_order_despite_loss_of_data_and_naks() -> None:
    sender, receiver = pair(rate=100000)
    msgs = [[b"%06d" % i, b"x" * (i * 37 % 5000)] for i in range(2000)]
    sender.send_messages(msgs)
    rng = random.Random(3)
    got = run(sender, receiver, lambda d: rng.random() < 0.1, until=5.0)
    assert got == msgs
    assert receiver.naks_sent and receiver.repaired and not receiver.lost_packets
    assert sender.rdata_sent >= receiver.repaired


def test_a_lost_tail_is_found_from_the_heartbeat_spm() -> None:
    sender, receiver = pair(rate=100000)
    sender.send_messages([[b"a"]])
    run(sender, receiver, lambda d: False, until=0.05)
    sender.send_messages([[b"b"]])  # its only packet is lost; no later data reveals the gap
    lose_first_b = [True]

    def drop(datagram: bytes) -> bool:
        if datagram[4] == packet.ODATA and lose_first_b[0]:
            lose_first_b[0] = False
            return True
        return False
    assert run(sender, receiver, drop, until=1.0) == [[b"b"]]


def test_data_beyond_the_trail_is_lost_and_the_stream_resumes_at_a_boundary() -> None:
    sender, receiver = pair(rate=100, recovery_ivl=200)  # a window of 1 packet
    assert sender.window_size == 1
    big = [b"y" * 3000]  # three packets
    sender.send_messages([big, [b"after"]])
    seen = [0]

    def drop(datagram: bytes) -> bool:
        if datagram[4] in (packet.ODATA, packet.RDATA):
            seen[0] += 1
            return seen[0] in (2, 3, 4, 5, 6, 7)  # the middle packet, and its repairs
        return False
    got = run(sender, receiver, drop, until=5.0, step=0.05)
    assert got == [[b"after"]]
    assert receiver.lost_packets


def test_a_nak_for_another_source_or_group_is_ignored() -> None:
    sender, _ = pair()
    sender.send_messages([[b"a"]])
    sender.poll(0.0)
    for src, grp in (("10.0.0.9", GROUP), (NLA, "239.9.9.9")):
        sender.receive(packet.build_nak(PORT, 4242, GSI, [0], src, grp), 0.1)
    assert sender.naks_received == 0 and sender.backlog == 0
    sender.receive(packet.build_nak(PORT, 4242, GSI, [0], NLA, GROUP), 0.1)
    out = sender.poll(0.2)  # (and the heartbeat SPM due since 0.1)
    assert [d[4] for d in out if d[4] != packet.SPM] == [packet.NCF, packet.RDATA]


def test_rate_limits_original_data() -> None:
    sender = Sender(gsi=GSI, sport=1, dport=PORT, nla=NLA, group=GROUP, rate=800)  # 100 kB/s
    sender.send_messages([[b"z" * 1000]] * 100)
    sent = 0
    now = 0.0
    while now < 0.5:
        sent += sum(len(d) for d in sender.poll(now) if d[4] == packet.ODATA)
        now += 0.001
    assert 40_000 < sent < 60_000  # half a second at 100 kB/s, headers included


def test_spm_schedule_heartbeat_then_ambient() -> None:
    sender, _ = pair()
    assert all(d[4] == packet.SPM for d in sender.poll(0.0))
    sender.send_messages([[b"a"]])
    sender.poll(1.0)
    times = []
    now = 1.0
    while now < 40:
        now = sender.next_deadline(now)
        if any(d[4] == packet.SPM for d in sender.poll(now)):
            times.append(round(now - 1.0, 1))
    assert times[:6] == [0.1, 0.2, 0.3, 0.4, 1.7, 8.7]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=40))
def test_hostile_datagrams_never_raise(datagrams: list[bytes]) -> None:
    sender, receiver = pair()
    for index, datagram in enumerate(datagrams):
        receiver.receive(datagram, index * 0.1)
        sender.receive(datagram, index * 0.1)
        receiver.poll(index * 0.1)
        sender.poll(index * 0.1)
    receiver.take_messages()  # (the property is that nothing above raised)


@settings(max_examples=100, deadline=None)
@given(sqns=st.lists(st.integers(0, 2 ** 32 - 1), max_size=50),
       leads=st.lists(st.integers(0, 2 ** 32 - 1), max_size=10))
def test_hostile_sequence_numbers_stay_within_the_window(sqns: list[int],
                                                         leads: list[int]) -> None:
    receiver = Receiver(dport=PORT, group=GROUP, rate=100, recovery_ivl=1000)
    for i, sqn in enumerate(sqns):
        receiver.receive(packet.build_data(1, PORT, GSI, sqn, 0, b"\x00\x00\x02\x00x"), i)
        if i < len(leads):
            receiver.receive(packet.build_spm(1, PORT, GSI, i, 0, leads[i], NLA), i)
        receiver.poll(i + 0.5)
    for source in receiver._sources.values():
        assert len(source.held) + len(source.missing) <= receiver.window + 1


def test_an_spmr_flood_gets_one_spm_per_holdoff() -> None:
    sender, _ = pair()
    sender.poll(0.0)  # the three SPMs of the start
    for i in range(100):
        sender.receive(packet.build_spmr(PORT, 4242, GSI), 1.0 + i * 0.001)
    assert [d[4] for d in sender.poll(1.1)] == [packet.SPM]
    sender.receive(packet.build_spmr(PORT, 4242, GSI), 1.2)
    assert [d[4] for d in sender.poll(1.2)] == [packet.SPM]
