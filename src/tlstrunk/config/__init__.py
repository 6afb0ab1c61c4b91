"""Cluster configuration: storage, validation and immutable snapshots."""
