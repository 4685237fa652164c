"""``python -m charter`` runs the CLI."""

from charter.cli.main import main

main()
