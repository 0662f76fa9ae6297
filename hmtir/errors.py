"""One exception type for every user-facing failure.

The CLI prints ``str(err)`` as a single line and exits non-zero, so messages must name the thing
that is wrong (file, option, URL) and, where possible, what to do about it.
"""


class HmtirError(Exception):
    """A failure caused by input, environment or data, reported to the user in one line."""
