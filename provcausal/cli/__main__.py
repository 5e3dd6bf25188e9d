"""``python -m provcausal.cli``."""

from provcausal.cli import main

main()
