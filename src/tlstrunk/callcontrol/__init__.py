"""Digit analysis, trunks, security-profile enforcement and the B2BUA."""
