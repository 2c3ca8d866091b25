"""`python -m atomic_content.cli`: the same as the `atomic` command."""

from . import main

main()
