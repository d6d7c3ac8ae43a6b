"""`python -m servicelinker` = the `servicelinker` command (used to start the operator from the dev stack)."""

from servicelinker.cli.main import main

main()
