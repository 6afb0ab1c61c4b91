"""Trace and capture sinks that every layer may feed."""
