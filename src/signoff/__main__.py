"""``python -m signoff``."""

from signoff.cli.app import main

main()
