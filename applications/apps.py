from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = "Campagnes et dossiers"

    def ready(self) -> None:
        # The workflow does not import what reacts to a transition: the reactions register here.
        from . import notifications, workflow  # the app registry must be ready: imported here

        workflow.on_transition(notifications.notify_transition)
