"""Refusals of the dossier services (applicant and back office) and of the workflow."""

from __future__ import annotations

from essms_portal.errors import UserError


class DossierError(UserError):
    """A write on a dossier refused, with a French message for the user."""


class NotAllowed(DossierError):
    """The policy (``applications.permissions``) refuses this action to this user."""


def require(allowed: bool, message: str) -> None:
    """Raise ``NotAllowed`` unless the policy's predicate said yes."""
    if not allowed:
        raise NotAllowed(message)
