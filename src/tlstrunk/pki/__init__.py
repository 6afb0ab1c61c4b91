"""Certificate authority, node certificate stores and the X.509 subject-name policy."""
