"""The base class of errors caused by user input; the CLI prints their message, no traceback."""


class UserError(Exception):
    """An error the user can fix; the message says what was wrong and what to do."""


class DataError(UserError, ValueError):
    """Bad data or data that cannot be found; the message says what to do."""
