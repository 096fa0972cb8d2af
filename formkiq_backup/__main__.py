"""`python -m formkiq_backup`: the same as the `formkiq-dr` command."""

from formkiq_backup.dr.cli import main

main()
