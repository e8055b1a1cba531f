"""The one exception type that means "the user gave us something we cannot use".

Library code raises :class:`GputrainError` with a message that fits on one line and says
what is wrong and where (file, column, row, option). The CLI prints it as ``error: ...`` and
exits with status 2; the service turns it into a failed job or an HTTP 4xx.
"""


class GputrainError(Exception):
    """A user-facing error: bad input, bad option, missing file, unusable data."""
