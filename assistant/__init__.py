"""WhatsApp image-catalog assistant. Every way in builds an `InboundMessage`: workers run
the webhooks' queued messages through `Assistant.run`, the simulator, notebooks and
evaluations call `Assistant.handle`."""

from assistant.models import InboundMedia, InboundMessage, OutMedia, Reply

__all__ = ["InboundMedia", "InboundMessage", "OutMedia", "Reply"]
