from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "essms_portal.accounts"
    label = "accounts"
    verbose_name = "Comptes et rôles"

    def ready(self) -> None:
        from . import audit

        audit.connect()

        # Agents' sessions start (and end at browser close) at login (security.py, issue #12).
        from django.contrib.auth.signals import user_logged_in

        from .security import record_login

        user_logged_in.connect(record_login, dispatch_uid="accounts.record_login")
