"""One exception base for every driver, so the app can catch hardware trouble in one place."""


class DriverError(Exception):
    """A hardware driver failed; the message says what to check."""
