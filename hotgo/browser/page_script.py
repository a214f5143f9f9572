"""The script the browser proxy adds to HTML pages, and where it goes in a page."""

from __future__ import annotations

import html
import re
from typing import Optional

from hotgo.browser.livereload import PageState

PREFIX = "/__hotgo/"
SCRIPT_PATH = PREFIX + "live.js"
EVENTS_PATH = PREFIX + "events"
OVERLAY_ID = "hotgo-overlay"

_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)

# Same-origin URLs only: the page works through tunnels and LAN addresses alike.
# The page knows which generation served it; every event carries the current
# one, so a page that missed an event (reconnect after sleep or a hotgo restart)
# still reloads, and never before a generation is ready.
SCRIPT = """(() => {
  const me = document.currentScript;
  const page = { run: me.dataset.run, generation: Number(me.dataset.generation), config: Number(me.dataset.config) };
  const overlayId = "__OVERLAY__";

  function showFailure(failed) {
    let box = document.getElementById(overlayId);
    if (!failed) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("div");
      box.id = overlayId;
      box.style.cssText = "position:fixed;inset:0;z-index:2147483647;background:rgba(20,20,24,.97);color:#eee;" +
        "font:14px/1.5 ui-monospace,Menlo,Consolas,monospace;padding:32px;overflow:auto";
      (document.body || document.documentElement).appendChild(box);
    }
    box.replaceChildren();
    const title = document.createElement("div");
    title.style.cssText = "color:#ff6b6b;font-weight:bold;font-size:16px;margin-bottom:16px";
    title.textContent = "hotgo: build of generation " + failed.generation +
      " failed (this page still shows the previous build; save a fix to rebuild)";
    const errors = document.createElement("pre");
    errors.style.cssText = "margin:0;white-space:pre-wrap";
    errors.textContent = failed.errors.join("\\n");
    box.append(title, errors);
  }

  function apply(state) {
    const newer = state.run !== page.run || state.generation > page.generation || state.config > page.config;
    if (state.generation > 0 && newer) { location.reload(); return; }
    showFailure(state.failed);
  }

  function connect() {
    const source = new EventSource("__EVENTS__");
    source.addEventListener("state", (event) => apply(JSON.parse(event.data)));
    // EventSource retries by itself unless the answer was not an event stream: then retry here.
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000); };
  }
  connect();
})();
""".replace("__OVERLAY__", OVERLAY_ID).replace("__EVENTS__", EVENTS_PATH)


def script_tag(state: PageState) -> bytes:
    attributes = {"run": state.run, "generation": str(state.generation), "config": str(state.config)}
    data = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in attributes.items())
    return f'<script src="{SCRIPT_PATH}" {data}></script>'.encode()


def inject(body: bytes, tag: bytes) -> Optional[bytes]:
    """`body` with `tag` before its last </body>; None for HTML without one (an htmx fragment, say)."""
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return None
    at = ends[-1].start()
    return body[:at] + tag + body[at:]
