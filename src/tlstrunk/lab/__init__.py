"""Topologies of several clusters on one machine, virtual phones and the demo."""
