"""A fake of the fetchers' HTTP seam (``functions.common.http.Http``) for the unit tests of the sources."""

from __future__ import annotations

from collections import deque

from functions.common.http import HttpResponse


class FakeHttp:
    """Returns queued responses in order and records the URLs asked for."""

    def __init__(self, *responses: HttpResponse) -> None:
        self.queue = deque(responses)
        self.urls: list[str] = []

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        self.urls.append(url)
        return self.queue.popleft()
