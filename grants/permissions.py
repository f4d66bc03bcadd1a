"""Who may act on a grant's follow-up (one home; services enforce, views ask).

The grant is followed by whoever decided on it: the ARS of the region for a regional call (its
instructeurs and valideurs), the CNSA for the national call. The porteur's confirmed members sign
the convention and keep the bank details.
"""

from __future__ import annotations

from applications.models import Application, Call
from applications.permissions import is_porteur
from essms_portal.accounts.models import ARS_ROLES, Role, User


def can_follow_up(user: User, application: Application) -> bool:
    """ARS agents of the regional call's region; CNSA agents for the national call."""
    call: Call = application.call
    if call.scope == Call.Scope.NATIONAL:
        return user.role == Role.CNSA_AGENT
    return (
        user.role in ARS_ROLES and user.region_id is not None and user.region_id == call.region_id
    )


def can_sign_convention(user: User, application: Application) -> bool:
    """The porteur's confirmed members upload the signed convention."""
    return user.role == Role.GESTIONNAIRE and is_porteur(user, application)


def can_enter_bank_details(user: User, application: Application) -> bool:
    """The porteur's confirmed members enter the bank details."""
    return can_sign_convention(user, application)
