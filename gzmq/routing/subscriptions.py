"""The publisher's subscription table: which pipes want a message, by the prefix of its first
frame.

Subscriptions come from the network, so their shape is the peer's choice. Two structures
answer ``match`` and neither lets a subscriber make every publish slow:

- **Length buckets** while few distinct topic lengths exist (the normal case: a handful of
  topic shapes): one slice of the message per distinct length, looked up in a dict. Cheapest
  per publish, but a peer subscribing to topics of every length from 1 to L would make each
  publish slice and hash L prefixes (quadratic in the message size).
- **A radix trie** from ``TRIE_AT_LENGTHS`` distinct lengths on (kept up to date from then
  on): one walk along the message, each step a C-speed ``startswith`` of an edge label, so a
  publish costs at most the length of the message, as with libzmq's mtrie, and memory stays
  proportional to the number of topics (edges hold byte strings, not one node per byte).

Topics are counted once per pipe (the subscriber side counts repeats and cancels only when its
own count drops to zero, as libzmq does), and each pipe's topics are indexed, so dropping a
subscriber costs its own topics, not the whole table.
"""

from __future__ import annotations

from os.path import commonprefix
from typing import AbstractSet, Generic, Optional, TypeVar

__all__ = ["Subscriptions", "TRIE_AT_LENGTHS"]

P = TypeVar("P")

#: from this many distinct topic lengths on, matching walks a radix trie
TRIE_AT_LENGTHS = 16


class _Node:
    __slots__ = ("edges", "topic")

    def __init__(self) -> None:
        #: first byte of the edge -> (edge label, child)
        self.edges: dict[int, tuple[bytes, _Node]] = {}
        #: the topic that ends here, if one does
        self.topic: Optional[bytes] = None


class _RadixTrie:
    """Topics as a radix trie; ``prefixes_of(data)`` lists the topics that prefix ``data``."""

    __slots__ = ("root",)

    def __init__(self) -> None:
        self.root = _Node()

    def insert(self, topic: bytes) -> None:
        node, pos = self.root, 0
        while pos < len(topic):
            edge = node.edges.get(topic[pos])
            if edge is None:
                leaf = _Node()
                leaf.topic = topic
                node.edges[topic[pos]] = (topic[pos:], leaf)
                return
            label, child = edge
            common = len(commonprefix([label, topic[pos:pos + len(label)]]))
            if common < len(label):  # split the edge where the new topic leaves it
                middle = _Node()
                middle.edges[label[common]] = (label[common:], child)
                node.edges[topic[pos]] = (label[:common], middle)
                child = middle
            node, pos = child, pos + common
        node.topic = topic

    def remove(self, topic: bytes) -> None:
        path: list[tuple[_Node, int]] = []  # (parent, first byte of the edge taken)
        node, pos = self.root, 0
        while pos < len(topic):
            edge = node.edges.get(topic[pos])
            if edge is None or not topic.startswith(edge[0], pos):
                return
            path.append((node, topic[pos]))
            pos += len(edge[0])
            node = edge[1]
        node.topic = None
        # prune: drop empty leaves, merge a topic-less node with its only child
        while path and node.topic is None and len(node.edges) <= 1:
            parent, first = path.pop()
            label = parent.edges[first][0]
            if not node.edges:
                del parent.edges[first]
            else:
                (child_label, child), = node.edges.values()
                parent.edges[first] = (label + child_label, child)
            node = parent

    def prefixes_of(self, data: bytes) -> list[bytes]:
        found = []
        node, pos, size = self.root, 0, len(data)
        while True:
            if node.topic is not None:
                found.append(node.topic)
            if pos >= size:
                return found
            edge = node.edges.get(data[pos])
            if edge is None or not data.startswith(edge[0], pos):
                return found
            pos += len(edge[0])
            node = edge[1]


class Subscriptions(Generic[P]):
    """Prefix table: topic -> subscribed pipes (see module docstring)."""

    __slots__ = ("_by_topic", "_lengths", "_of_pipe", "_trie")

    def __init__(self) -> None:
        self._by_topic: dict[bytes, set[P]] = {}
        self._lengths: dict[int, int] = {}  # topic length -> number of topics of that length
        self._of_pipe: dict[P, dict[bytes, None]] = {}  # insertion-ordered sets
        self._trie: Optional[_RadixTrie] = None

    def add(self, pipe: P, topic: bytes) -> bool:
        """Subscribe ``pipe``; True if nobody was subscribed to ``topic`` before."""
        self._of_pipe.setdefault(pipe, {})[topic] = None
        pipes = self._by_topic.get(topic)
        if pipes is not None:
            pipes.add(pipe)
            return False
        self._by_topic[topic] = {pipe}
        self._lengths[len(topic)] = self._lengths.get(len(topic), 0) + 1
        if self._trie is not None:
            self._trie.insert(topic)
        elif len(self._lengths) >= TRIE_AT_LENGTHS:
            self._trie = _RadixTrie()
            for known in self._by_topic:
                self._trie.insert(known)
        return True

    def remove(self, pipe: P, topic: bytes) -> bool:
        """Unsubscribe ``pipe``; True if that left ``topic`` with no subscriber at all."""
        pipes = self._by_topic.get(topic)
        if pipes is None or pipe not in pipes:
            return False
        pipes.discard(pipe)
        mine = self._of_pipe[pipe]
        mine.pop(topic, None)
        if not mine:
            del self._of_pipe[pipe]
        if pipes:
            return False
        del self._by_topic[topic]
        remaining = self._lengths[len(topic)] - 1
        if remaining:
            self._lengths[len(topic)] = remaining
        else:
            del self._lengths[len(topic)]
        if self._trie is not None:
            self._trie.remove(topic)
        return True

    def remove_pipe(self, pipe: P) -> list[bytes]:
        """Drop every subscription of ``pipe``; return the topics left with no subscriber."""
        return [topic for topic in list(self._of_pipe.get(pipe, ()))
                if self.remove(pipe, topic)]

    def match(self, data: bytes) -> AbstractSet[P]:
        """The pipes subscribed to a prefix of ``data``. Read-only: when a single topic
        matches (everyone subscribed to everything, say) it is that topic's own set, not a
        copy, since a publisher asks once per message sent."""
        by_topic = self._by_topic
        if self._trie is not None:
            matching = [by_topic[topic] for topic in self._trie.prefixes_of(data)]
        else:
            size = len(data)
            matching = [pipes for pipes in (by_topic.get(data[:length]) for length in
                        self._lengths if length <= size) if pipes]
        if len(matching) == 1:
            return matching[0]
        matched: set[P] = set()
        for pipes in matching:
            matched.update(pipes)
        return matched

    def topics(self, pipe: Optional[P] = None) -> list[bytes]:
        if pipe is None:
            return list(self._by_topic)
        return list(self._of_pipe.get(pipe, ()))

    def __len__(self) -> int:
        return len(self._by_topic)
