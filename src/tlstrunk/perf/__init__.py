"""Load benchmarks: calls per second through a node or Kamailio, TLS handshakes, memory per call.

Everything runs on loopback, bounded in calls and seconds. The generator
(:mod:`tlstrunk.perf.sipload`) places and answers calls; the runners start the
systems under test; :mod:`tlstrunk.perf.report` writes the Markdown and JSON
report with its plot.
"""
