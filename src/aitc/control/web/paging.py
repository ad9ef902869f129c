"""Pages of a long list: which rows a page shows, and the links to the others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

PAGE_SIZE = 50
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


@dataclass(frozen=True, slots=True)
class Paging:
    """Page ``page`` (from 1) of ``total`` rows, ``size`` a page; ``query`` keeps the other
    parameters of the list (its filters) in the links."""

    page: int
    total: int
    size: int = PAGE_SIZE
    query: tuple[tuple[str, str], ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def href(self, page: int) -> str:
        """The query string of another page of the same list."""
        return "?" + urlencode([*(kv for kv in self.query if kv[1]), ("page", str(page))])
