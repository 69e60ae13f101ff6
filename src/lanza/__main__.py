"""``python -m lanza`` runs the CLI."""

from lanza.cli.app import main

main()
