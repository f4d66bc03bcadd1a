from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "essms_portal.accounts"
    label = "accounts"
    verbose_name = "Comptes et rôles"
