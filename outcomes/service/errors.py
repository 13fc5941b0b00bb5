"""Errors of the clinic server, each with a stable code and the HTTP status it is answered with.

Routes raise these (or the core's :class:`~outcomes.errors.OutcomesError`); one handler in
:mod:`outcomes.service.app` turns both into ``{"error": …, "code": …}`` with the status.
"""

from __future__ import annotations

from outcomes.errors import OutcomesError, http_status


class ServiceError(OutcomesError):
    """A request the server refuses; ``status`` is its HTTP status."""

    default_code = "bad_request"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message, code=code)
        if status is not None:
            self.status = status


class Unauthorized(ServiceError):
    default_code, status = "unauthorized", 401


class Forbidden(ServiceError):
    default_code, status = "forbidden", 403


class NotFound(ServiceError):
    default_code, status = "not_found", 404


class Conflict(ServiceError):
    default_code, status = "conflict", 409


class PayloadTooLarge(ServiceError):
    default_code, status = "payload_too_large", 413


class UnsupportedMediaType(ServiceError):
    default_code, status = "unsupported_media_type", 415


class Unprocessable(ServiceError):
    default_code, status = "invalid", 422


class TooManyAttempts(ServiceError):
    default_code, status = "too_many_attempts", 429


def status_of(error: OutcomesError) -> int:
    """HTTP status for any project error: the service's own, else the core's table."""
    if isinstance(error, ServiceError):
        return error.status
    return http_status(error)
