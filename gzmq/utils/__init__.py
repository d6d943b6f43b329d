"""pyzmq's ``zmq.utils`` helpers that user code imports."""
