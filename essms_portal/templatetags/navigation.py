"""Navigation helpers for templates: the DSFR breadcrumb of deep pages.

``{% load navigation %}{% breadcrumb "Mon espace" espace_url "Grappe X" grappe_url
current="Dossier n° 3" %}`` (on one line): titles and URLs alternate; the home page comes first
and ``current`` last (not a link).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse

register = template.Library()


@dataclass(frozen=True)
class Crumb:
    title: str
    url: str


@register.inclusion_tag("_breadcrumb.html")
def breadcrumb(*pairs: object, current: str) -> dict[str, object]:
    """The links from the home page down to the current page."""
    if len(pairs) % 2:
        raise template.TemplateSyntaxError("breadcrumb : titres et adresses vont par paires.")
    links = [Crumb(str(pairs[i]), str(pairs[i + 1])) for i in range(0, len(pairs), 2)]
    return {"home": reverse("home"), "links": links, "current": current}
