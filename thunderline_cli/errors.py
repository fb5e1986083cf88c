"""The CLI's own error: a failure with a message meant for the user (one line on stderr, exit status 2)."""


class CliError(RuntimeError):
    """A failure with a message meant for the user."""
