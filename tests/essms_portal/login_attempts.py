"""Run in a separate OS process by test_login_security: login attempts against the test
database, printing one JSON line per attempt. Usage:

    python -m tests.essms_portal.login_attempts {allauth|django_form} EMAIL PASSWORD COUNT [noaxes]
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.forms import AuthenticationForm  # noqa: E402
from django.test import Client, RequestFactory, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def main() -> None:
    mode, email, password, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    axes = "noaxes" not in sys.argv[5:]
    setup_test_environment()
    with override_settings(AXES_ENABLED=axes and settings.AXES_ENABLED):
        for _ in range(count):
            if mode == "allauth":
                client = Client(REMOTE_ADDR="10.1.1.1")
                response = client.post("/comptes/login/", {"login": email, "password": password})
                result = {
                    "status": response.status_code,
                    "logged_in": "_auth_user_id" in client.session,
                    "page": response.content.decode(),
                }
            else:
                # The form Django's admin login used (and any LoginView): authenticate(request…).
                request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.1.1.1")
                form = AuthenticationForm(request, data={"username": email, "password": password})
                valid = form.is_valid()
                result = {
                    "status": 200,
                    "logged_in": valid,
                    "page": " ".join(str(e) for e in form.non_field_errors()),
                }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
