"""Exit statuses of every command."""

EXIT_OK = 0
EXIT_USAGE = 2  # bad input: a file or folder that cannot be used as asked
EXIT_CRASH = 70  # an unexpected error (a bug), logged by segstudio.crash_log; EX_SOFTWARE of sysexits.h
EXIT_CLOSED_OUTPUT = 1  # stdout closed early (``segstudio models | head``): quiet, as Python's docs do it
