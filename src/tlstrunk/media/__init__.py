"""SDES keys and SRTP media handling."""
