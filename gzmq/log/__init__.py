"""Logging over ZeroMQ: ``gzmq.log.handlers.PUBHandler``; ``python -m gzmq.log`` watches it."""
