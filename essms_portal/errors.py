"""The one error type a service raises to refuse a request, with a message for the user."""

from __future__ import annotations


class UserError(Exception):
    """A refused request: ``message`` is shown to the user as is (French); ``field`` names the
    form field it belongs to, when there is one. Nothing was written."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
