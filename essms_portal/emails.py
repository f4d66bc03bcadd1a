"""The portal's e-mails are Django templates: ``templates/emails/<name>_subject.txt`` (one line;
line breaks are folded) and ``templates/emails/<name>.txt`` (the plain-text body), rendered with
a context and recorded in the outbox by :func:`essms_portal.outbox.email_queue`.

E-mail templates are plain text: they are rendered without HTML autoescaping (an organisation
named « Soins & Cie » stays so). Links in them are absolute (``essms_portal.links``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.template import Context, engines
from post_office.models import Email

from essms_portal.outbox import email_queue

EMAIL_TEMPLATES = "emails"


def _render(template_name: str, context: Mapping[str, Any]) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.get_template(f"{EMAIL_TEMPLATES}/{template_name}")
    return str(template.render(Context(dict(context), autoescape=False)))


def email_render(name: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """The (subject, body) of the e-mail ``name`` for this context. ``portal_name`` is always in
    the context."""
    full = {"portal_name": settings.PORTAL_NAME, **context}
    subject = " ".join(_render(f"{name}_subject.txt", full).split())
    body = _render(f"{name}.txt", full)
    return subject, body


def email_queue_template(
    name: str, *, context: Mapping[str, Any], recipients: Iterable[str]
) -> Email | None:
    """Render the e-mail ``name`` and record it in the outbox (see ``email_queue``)."""
    subject, body = email_render(name, context)
    return email_queue(subject=subject, body=body, recipients=recipients)
