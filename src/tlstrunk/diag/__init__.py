"""Troubleshooting: trunk doctor and call ladders."""
