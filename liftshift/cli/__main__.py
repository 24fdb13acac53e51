"""`python -m liftshift.cli`: the same as the `liftshift` command (tests and benchmarks run it as a process)."""

from . import main

main()
