from django.apps import AppConfig


class GrappesConfig(AppConfig):
    name = "grappes"
    verbose_name = "Référentiel et grappes"
