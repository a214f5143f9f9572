"""`--browser ADDR`, the live-reload proxy: the proxy, the page script, what pages are told."""
