"""The one exception type that means "the user gave us something we cannot use".

Library code raises :class:`GputrainError` with a message that fits on one line and says
what is wrong and where (file, column, row, option). The CLI prints it as ``error: ...`` and
exits with status 2; the service turns it into a failed job or an HTTP 4xx.
"""


class GputrainError(Exception):
    """A user-facing error: bad input, bad option, missing file, unusable data."""


class OptionError(GputrainError):
    """A bad value for one option: ``field`` is the option's parameter name (``"epochs"``
    for ``--epochs``, ``"data"`` for an input argument), so callers map it to a flag or a
    JSON field without reading the message."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)
