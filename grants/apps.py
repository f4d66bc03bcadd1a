from django.apps import AppConfig


class GrantsConfig(AppConfig):
    """Life of a grant after its decision: usage targets and their measurements (financement à
    l'usage), then conventions, payment orders and amendments."""

    name = "grants"
    verbose_name = "Suivi des financements"
