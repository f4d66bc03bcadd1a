from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "funding"
    verbose_name = "Règles de financement"

    def ready(self) -> None:
        # The quotes' referential is held in memory per process (funding.referential_memo): any
        # saved or deleted row of the three tables it is built from starts a new version.
        from django.db.models.signals import post_delete, post_save

        from grappes.models import Departement, FinessCategory, Region

        from .referential_memo import referential_changed

        for model in (Region, Departement, FinessCategory):
            for signal in (post_save, post_delete):
                signal.connect(
                    referential_changed,
                    sender=model,
                    dispatch_uid=f"funding-referential-{model.__name__}-{signal is post_save}",
                )
