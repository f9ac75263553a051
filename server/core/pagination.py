"""The one pagination helper behind every list: ``{items, page, page_size, total, has_more}``.

``paginate`` runs a select through Flask-SQLAlchemy's ``db.paginate`` (a count and one page);
``paginate_list`` pages a list already in memory. Both answer a ``Page`` that
``schemas.common.page_of`` dumps as it is.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from server.extensions import db


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    page_size: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total

    def map(self, present: Callable[[Any], Any]) -> "Page":
        """The same page with each item presented by ``present``."""
        return Page([present(item) for item in self.items], self.page, self.page_size, self.total)


def paginate(query: Select, page: int, page_size: int) -> Page:
    result = db.paginate(query, page=page, per_page=page_size, max_per_page=None, error_out=False)
    return Page(list(result.items), page, page_size, result.total or 0)


def paginate_list(items: Sequence, page: int, page_size: int) -> Page:
    start = (page - 1) * page_size
    return Page(list(items[start : start + page_size]), page, page_size, len(items))
