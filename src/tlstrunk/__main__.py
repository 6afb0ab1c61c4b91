"""Allow ``python -m tlstrunk``."""

from tlstrunk.admin.cli import main

main()
