"""Every model is in the admin with search and filters; grappe and dossier pages show the quote."""

import html

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from applications.demo.simple import DEMO_GRAPPE
from applications.models import Application
from essms_portal.accounts.models import Role
from grappes.models import Grappe
from tests.applications.helpers import submitted_dossier
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "grappes", "applications")


@pytest.fixture
def admin_client(client):
    call_command("seed_demo")
    user = UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_every_project_model_is_registered_with_search():
    for model in apps.get_models():
        if model._meta.app_label in PROJECT_APPS:
            assert model in admin.site._registry, model
            assert admin.site._registry[model].search_fields, model


@pytest.mark.parametrize("app_label", PROJECT_APPS)
def test_changelists_render_with_search(admin_client, app_label):
    for model in apps.get_app_config(app_label).get_models():
        url = reverse(f"admin:{app_label}_{model._meta.model_name}_changelist")
        assert admin_client.get(url, {"q": "a"}).status_code == 200, url


def test_grappe_and_application_pages_show_a_read_only_quote(admin_client):
    grappe = Grappe.objects.get(name=DEMO_GRAPPE)
    page = admin_client.get(reverse("admin:grappes_grappe_change", args=[grappe.pk]))
    assert "Chiffrage des dossiers" in page.content.decode()
    assert "Éligible" in page.content.decode()
    application = Application.objects.get(grappe__name=DEMO_GRAPPE)
    page = admin_client.get(reverse("admin:applications_application_change", args=[application.pk]))
    assert "Première tranche" in page.content.decode()


def test_admin_transition_action_goes_through_the_workflow(admin_client):
    application, _porteur = submitted_dossier()
    response = admin_client.post(
        reverse("admin:applications_application_changelist"),
        {"action": "apply_take", "_selected_action": [application.pk]},
        follow=True,
    )
    # A submitted dossier may be taken, but not by an administrator, who holds no reviewer
    # role: the workflow refuses and the status is unchanged.
    assert "Vous n'êtes pas habilité à effectuer cette action." in html.unescape(
        response.content.decode()
    )
    application.refresh_from_db()
    assert application.status == "submitted"
