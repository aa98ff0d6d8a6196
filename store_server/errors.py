"""Domain errors with stable codes; the API turns them into `{error, message}` JSON."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, **details) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404


class Unauthorised(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class TooMany(DomainError):
    status = 429


class TooLarge(DomainError):
    status = 413
