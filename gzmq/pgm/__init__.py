"""PGM (RFC 3208) as libzmq uses it through OpenPGM, sans-IO: datagrams and time in, messages
and datagrams out. No sockets, no gevent, no clock; ``gzmq/transports/pgm.py`` does the I/O.

- ``packet``: PGM packets (SPM, ODATA/RDATA, NAK/NCF, SPMR) and their checksum.
- ``framing``: libzmq's framing inside a packet (first-message offset + v1 frames).
- ``sender``: a source's rate-limited transmit window, repairs and SPMs.
- ``receiver``: per-source receive windows, NAKs, loss and late join.
"""
