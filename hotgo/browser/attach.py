"""`--browser ADDR`: what pages are told (made before the loop, which tells it) and the proxy that serves them."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Optional, Sequence

from hotgo.browser.livereload import LiveReload
from hotgo.errors import UsageError
from hotgo.handoff.sockets import port_in_use_message
from hotgo.log import Log
from hotgo.settings.addresses import ListenAddress, parse_listen
from hotgo.settings.schema import Settings

if TYPE_CHECKING:
    from hotgo.browser.proxy import BrowserProxy

_WILDCARD_TO_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def page_state(settings: Settings, addresses: Sequence[ListenAddress], log: Log) -> Optional[LiveReload]:
    """The state pages follow, or None when [browser] listen is empty."""
    if not settings.browser_listen or not addresses:  # resolve() refused --browser without --listen
        return None
    return LiveReload(addresses[0].port, settings.run_drain_timeout, settings.browser_reload_on_config, log)


def open_proxy(settings: Settings, addresses: Sequence[ListenAddress], live: LiveReload, log: Log,
               front: str = "") -> BrowserProxy:
    """The running proxy in front of the first listen address, or of the front door (`front`, host:port)
    when there is one: then pages too are held rather than refused while no generation accepts."""
    from hotgo.browser.proxy import BrowserProxy  # an HTTP server's imports: only a run with --browser pays them

    where = parse_listen(settings.browser_listen)
    target = addresses[0]
    host, port = _WILDCARD_TO_LOOPBACK.get(target.host, target.host), target.port
    if front:
        host, port = front.rsplit(":", 1)[0].strip("[]"), int(front.rsplit(":", 1)[1])
    try:
        proxy = BrowserProxy((where.host, where.port), where.family, (host, port), live)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise UsageError(f"--browser: {port_in_use_message(where)}") from None
        raise UsageError(f"--browser {where}: {err.strerror}") from None
    proxy.start()
    url = where.with_port(int(proxy.server_address[1])).url("/")
    through = f"the front door {front}" if front else str(target)
    log.info(f"browser: open {url} (proxy to {through}): pages reload once a new generation serves"
             f"{'' if settings.browser_reload_on_config else ', not on config pushes'}",
             event="browser", url=url, upstream=front or str(target))
    return proxy
