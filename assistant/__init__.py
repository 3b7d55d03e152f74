"""WhatsApp image-catalog assistant: every channel goes through `Assistant.handle`."""

from assistant.models import InboundMedia, InboundMessage, OutMedia, Reply

__all__ = ["InboundMedia", "InboundMessage", "OutMedia", "Reply"]
