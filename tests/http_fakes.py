"""A fake of the fetchers' HTTP seam (``functions.common.http.Http``) for the unit tests of the sources."""

from __future__ import annotations

from collections import deque

from functions.common.http import HttpResponse


class FakeHttp:
    """Returns queued responses in order and records the URLs asked for; with ``repeat_last``, the last
    response answers every request after it (a source that keeps answering the same way)."""

    def __init__(self, *responses: HttpResponse, repeat_last: bool = False) -> None:
        self.queue = deque(responses)
        self.repeat_last = repeat_last
        self.urls: list[str] = []

    def get(self, url: str, *, timeout: float) -> HttpResponse:
        self.urls.append(url)
        if self.repeat_last and len(self.queue) == 1:
            return self.queue[0]
        return self.queue.popleft()
