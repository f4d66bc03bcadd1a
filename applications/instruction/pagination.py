"""Pagination of the reviewer's queue: the page's rows are read by ``queue_page_rows``."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from essms_portal.accounts.models import User

from ..models import Application
from .selectors import queue_page_rows


class QueuePaginator(Paginator):
    """A paginator of the (filtered, ordered) queue ``rows`` of ``user``.

    ``count`` is given, not counted: the counts per status add up to it (one query less).
    A page's rows come from ``queue_page_rows``, which cuts the page on the dossiers' keys
    before joining what the rows show, instead of slicing the joined queryset (issue #13).
    """

    def __init__(
        self, rows: QuerySet[Application], per_page: int, *, user: User, count: int
    ) -> None:
        super().__init__(rows, per_page)
        self.rows = rows  # typed: Paginator's object_list is any sliceable sequence
        self.user = user
        self.count = count  # a cached_property of Paginator: set once, never counted

    def page(self, number: Any) -> Page:
        """Django's ``Paginator.page`` (same bounds, orphans included), other rows query."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if not self.count:  # nothing matches (a search without result): nothing to read
            rows = self.rows.none()
        else:
            rows = queue_page_rows(user=self.user, rows=self.rows, start=bottom, stop=top)
        return Page(rows, number, self)  # what Paginator._get_page builds
