"""tlstrunk: SIP call control whose clusters talk over mutually authenticated TLS trunks."""

__version__ = "0.1.0"
