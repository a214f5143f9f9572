"""The serving generation's binary deleted under load (issue 23): no request fails.

Deleting the file alone never touched the running process; what failed was the next start of
that path: the service exited, the crash restart exec'd a binary that was not there (exit 127),
and nothing served until the next change. Now hotgo holds the serving binary open, says
`binary_missing` and puts it back. Under keep-alive GET and POST load that retries nothing
(tests/fixtures/loadclient), the binary is deleted twice: once with time for hotgo to notice
before the service exits, once with the service told to exit at the same moment. Each time the
service (the Go helper: it drains on SIGTERM, then exits 0) exits on its own and is restarted
from the same build; the shared socket holds new connections meanwhile.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness import Hotgo, LoadClient, build_load_client, free_port, load_client_service


def test_a_deleted_serving_binary_costs_no_request(api_project: Path, go_toolchain: str, tmp_path: Path) -> None:
    port = free_port()
    # GET and POST on /, through the Go helper (samples/api's copy): what the load client expects
    service = load_client_service(f"127.0.0.1:{port}", helper="example.com/api/internal/hotgo")
    (api_project / "cmd" / "api" / "main.go").write_text(service)
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving(timeout=180)
        client = LoadClient(build_load_client(go_toolchain, tmp_path), port)
        try:
            client.wait_seen("v1")
            # 1. deleted; hotgo notices and puts it back while generation 1 serves; then 1 exits
            ready = hotgo.wait_event("ready", generation=1)
            binary = Path(hotgo.wait_event("start", generation=1)["binary"])
            binary.unlink()
            missing = hotgo.wait_event("binary_missing", timeout=10)
            assert (missing["generation"], missing["binary"], missing["restored"]) == (1, str(binary), True)
            assert binary.is_file() and os.access(binary, os.X_OK)
            assert hotgo.count_events("crashed") == 0 and hotgo.count_events("drain") == 0, hotgo.transcript()
            os.kill(ready["pid"], signal.SIGTERM)
            ready = hotgo.wait_event("ready", generation=2, timeout=30)
            # 2. deleted, and the service exits at the same moment
            binary.unlink()
            os.kill(ready["pid"], signal.SIGTERM)
            hotgo.wait_event("ready", generation=3, timeout=30)
            assert hotgo.count_events("binary_missing", restored=True) == 2, hotgo.transcript()
            assert hotgo.count_events("failed_start") == 0 and hotgo.count_events("build") == 1, hotgo.transcript()
            assert [r["binary"] for r in hotgo.events("start")] == [str(binary)] * 3
            assert hotgo.count_events("crashed") == 2, hotgo.transcript()
            summary = client.finish()
        finally:
            client.close()
        print(f"\nload across two deletions of the serving binary and two restarts: {summary}")
        assert summary["failures"] == 0 and summary["retried"] == 0, summary
        assert isinstance(summary["posts"], int) and summary["posts"] > 0, summary
        assert isinstance(summary["gets"], int) and summary["gets"] > 0, summary
        assert hotgo.interrupt() == 0
