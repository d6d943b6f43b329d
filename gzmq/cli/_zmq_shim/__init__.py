"""Holds the stand-in ``zmq`` package that gzmq.monkey puts on PYTHONPATH (see zmq/)."""
