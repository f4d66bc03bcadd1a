from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

from essms_portal.quotes_version import quotes_changed
from grappes.segur import SegurPolicy, segur_policy_source

if TYPE_CHECKING:
    from .models import WorkflowLog


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = "Campagnes et dossiers"

    def ready(self) -> None:
        # The workflow does not import what reacts to a transition: the reactions register here.
        from . import notifications, workflow  # the app registry must be ready: imported here

        workflow.on_transition(notifications.notify_transition)
        # A transition changes what the cached quotes of submitted dossiers cover (the dashboard's
        # "requested"): a new version once it commits.
        workflow.on_transition(quotes_transitioned)
        # The grappe page says what a non-Ségur solution means for funding, with the current
        # campaign's year and exemptions, which grappes may not import (grappes.segur).
        segur_policy_source(current_segur_policy)


def quotes_transitioned(*, entry: WorkflowLog) -> None:
    """Transition hook: the quotes cached under the current version are stale after commit —
    except after issuing a decision (NOTIFY): accepted and notified are both "funded" (for the
    quotes' already-funded rule, the dashboard's accepted amounts and the atlas) and the dossier
    stays submitted, so nothing cached changes; a campaign's decisions issued one after the
    other would otherwise leave the dashboard cold after each of them (issue #13)."""
    from .workflow import Action  # the app registry must be ready: imported here

    if entry.action == Action.NOTIFY:
        return
    quotes_changed()


def current_segur_policy() -> SegurPolicy | None:
    """The Ségur policy of the campaign the public pages show (``selectors.campaign_current``)."""
    from .selectors import campaign_current  # models are ready only once ``ready()`` ran

    campaign = campaign_current()
    if campaign is None:
        return None
    return SegurPolicy(
        required_from_year=campaign.segur_required_from_year,
        exempt_items=frozenset(campaign.segur_exempt_items.values_list("code", flat=True)),
    )
