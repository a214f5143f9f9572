"""An `http:` push: one request, retried while nothing listens (the service may be between generations)."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from typing import Tuple


def http_push(method: str, url: str, attempts: int = 5) -> Tuple[bool, str]:
    """(whether the service answered 2xx, what it answered); blocks: call it from the push thread."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    delay = 0.1
    message = ""
    for _attempt in range(attempts):
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
        try:
            conn.request(method, path, headers={"User-Agent": "hotgo-push", "Connection": "close"})
            response = conn.getresponse()
            body = " ".join(response.read(2000).decode(errors="replace").split())
        except (OSError, http.client.HTTPException) as err:
            message = f"{url}: {err}"
            time.sleep(delay)
            delay *= 2
            continue
        finally:
            conn.close()
        return 200 <= response.status < 300, f"HTTP {response.status}: {body}".strip(": ")
    return False, message
