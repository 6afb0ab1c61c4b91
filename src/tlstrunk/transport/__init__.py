"""asyncio transports for SIP over TLS, and the one place that builds TLS contexts."""
