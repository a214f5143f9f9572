"""`hotgo init` in a module with several main packages (issue 22): a [services.NAME] table each, ports
that never clash, names that never clash, and the code generators the repository shows.

Each module is written into tmp by the test; `hotgo init` needs no Go toolchain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

from hotgo.init.detect_generators import detect_generators
from hotgo.init.main_packages import service_names
from hotgo.settings import toml_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

API = '''package main

import (
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	path := flag.String("config", "config/api.json", "config file")
	flag.Parse()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			reloadConfig(*path)
		}
	}()
	http.ListenAndServe("127.0.0.1:8080", nil)
}

func reloadConfig(string) {}
'''
SERVES_ON = 'package main\n\nimport "net/http"\n\nfunc main() {{ http.ListenAndServe("{address}", nil) }}\n'
READS_PORT = ('package main\n\nimport (\n\t"net/http"\n\t"os"\n)\n\n'
              'func main() { http.ListenAndServe(":"+os.Getenv("PORT"), nil) }\n')
WORKER = 'package main\n\n//go:generate stringer -type=Kind\n\ntype Kind int\n\nfunc main() { select {} }\n'
SQLC = ('version: "2"\nsql:\n  - engine: "postgresql"\n    queries: "db/queries"\n    schema: "db/migrations"\n'
        '    gen:\n      go: {package: "db", out: "db"}\n')


def module(tmp_path: Path, files: Dict[str, str], name: str = "example.com/shop") -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "go.mod").write_text(f"module {name}\n\ngo 1.22\n")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def shop(tmp_path: Path) -> Path:
    """Two HTTP mains named api on different ports, the root on api's port, a worker, an example, generators."""
    return module(tmp_path, {
        "cmd/api/main.go": API,
        "config/api.json": "{}\n",
        "tools/cmd/api/main.go": SERVES_ON.format(address=":9090"),
        "cmd/worker/main.go": WORKER,
        "main.go": SERVES_ON.format(address=":8080"),
        "examples/hello/main.go": "//go:build ignore\n\n" + SERVES_ON.format(address=":7000"),
        "web/hello.templ": "package web\n\ntempl Hello() { <p>hi</p> }\n",
        "sqlc.yaml": SQLC,
        "db/queries/q.sql": "SELECT 1;\n",
        "db/migrations/1.sql": "CREATE TABLE t (id int);\n",
    })


def init(root: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "hotgo", "init", "--force"], cwd=root, text=True,
                            capture_output=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
    return result


def parsed(root: Path) -> Dict[str, Any]:
    with (root / "hotgo.toml").open("rb") as handle:
        data: Dict[str, Any] = tomllib.load(handle)
    return data


def test_each_main_package_gets_a_service_table_with_its_own_detections(tmp_path: Path) -> None:
    root = shop(tmp_path)
    result = init(root)
    data = parsed(root)
    services = data["services"]
    assert list(services) == ["api", "worker", "tools-api", "shop"]  # the example is `//go:build ignore`
    assert services["api"] == {"package": "./cmd/api", "listen": ["127.0.0.1:8080"], "config": {
        "files": ["config/api.json"], "push": "signal:SIGHUP", "validate": "auto"}}
    assert services["tools-api"]["package"] == "./tools/cmd/api"
    assert services["tools-api"]["listen"] == [":9090"]
    assert services["worker"]["package"] == "./cmd/worker"
    assert services["shop"]["package"] == "."
    for name in ("worker", "tools-api", "shop"):
        # config/ holds the api's file only: a guess, left commented for the others
        assert set(services[name]) == ({"package", "config"} | ({"listen"} if name == "tools-api" else set()))
        assert services[name]["config"] == {"files": [], "push": "restart", "validate": "auto"}
    assert "services: api (./cmd/api), worker (./cmd/worker), tools-api (./tools/cmd/api), shop (.)" in result.stdout


def test_shared_sections_are_defaults_without_the_keys_of_one_service(tmp_path: Path) -> None:
    root = shop(tmp_path)
    init(root)
    data = parsed(root)
    assert set(data) == {"build", "run", "watch", "services", "generate"}
    assert set(data["build"]) == {"profile", "flags", "env", "keep"}
    assert "listen" not in data["run"] and "binary" not in data["run"]
    assert data["watch"]["include"] == ["**/*.go", "go.mod", "go.sum", "go.work", "go.work.sum"]


def test_a_port_two_sources_name_stays_with_the_first_and_a_worker_says_why_it_has_none(tmp_path: Path) -> None:
    root = shop(tmp_path)
    result = init(root)
    text = (root / "hotgo.toml").read_text()
    shop_table = text.split("[services.shop]\n", 1)[1].split("\n\n", 1)[0]
    assert "port 8080 is api's (found first)" in shop_table
    assert shop_table.endswith('\n# listen = [":8080"]')
    worker_table = text.split("[services.worker]\n", 1)[1].split("\n\n", 1)[0]
    assert "no port found, socket mode none: stop-then-start on reload" in worker_table
    assert "listen" not in worker_table
    assert "shop: listen: :8080 left commented: port 8080 is api's" in result.stdout


def test_services_that_only_read_port_get_distinct_commented_ports(tmp_path: Path) -> None:
    root = module(tmp_path, {"cmd/a/main.go": READS_PORT, "cmd/b/main.go": READS_PORT,
                             "cmd/c/main.go": SERVES_ON.format(address=":8080")})
    init(root)
    services = parsed(root)["services"]
    assert services["c"]["listen"] == [":8080"]
    assert "listen" not in services["a"] and "listen" not in services["b"]
    text = (root / "hotgo.toml").read_text()
    assert '# listen = [":8081"]' in text.split("[services.a]", 1)[1].split("[services.b]", 1)[0]
    assert '# listen = [":8082"]' in text.split("[services.b]", 1)[1].split("[services.c]", 1)[0]
    assert "the service reads PORT" in text


def test_generators_are_proposed_and_go_generate_left_commented_naming_its_files(tmp_path: Path) -> None:
    root = shop(tmp_path)
    result = init(root)
    assert parsed(root)["generate"] == [
        {"watch": ["**/*.templ"], "run": "templ generate"},
        {"watch": ["db/migrations/*.sql", "db/queries/*.sql", "sqlc.yaml"], "run": "sqlc generate"},
    ]
    text = (root / "hotgo.toml").read_text()
    assert ('# [[generate]]\n# watch = ["cmd/worker/main.go"]\n# run = "go generate ./..."\n') in text
    assert "//go:generate in cmd/worker/main.go: which files its commands read is unknown" in text
    assert "generate: go generate ./... on cmd/worker/main.go (left commented)" in result.stdout


def test_names_come_from_the_directory_and_clashes_take_the_parents(tmp_path: Path) -> None:
    root = module(tmp_path, {}, name="example.com/api/v2")
    packages = [".", "./cmd/api", "./tools/cmd/api", "./services/billing/cmd/server",
                "./services/shipping/cmd/server", "./cmd/my.service", "./cmd/" + "long" * 10]
    names = service_names(packages, root)
    assert names == {
        ".": "api",  # the module's name, its major version left out
        "./cmd/api": "api-2",  # `cmd` left out, nothing more to add: numbered in the order found
        "./tools/cmd/api": "tools-api",
        "./services/billing/cmd/server": "billing-server",
        "./services/shipping/cmd/server": "shipping-server",
        "./cmd/my.service": "my-service",
        "./cmd/" + "long" * 10: "long" * 8,
    }


def test_sqlc_without_readable_paths_and_buf_outside_the_root(tmp_path: Path) -> None:
    root = module(tmp_path, {"sqlc.json": "{not json", "api/buf.gen.yaml": "version: v2\n",
                             "gen.go": "package shop\n\n//go:generate go run github.com/a-h/templ/cmd/templ generate\n",
                             "page.templ": "package shop\n"})
    by_run = {g.run: g for g in detect_generators(root)}
    assert by_run["sqlc generate"].watch == ["**/*.sql", "sqlc.json"] and by_run["sqlc generate"].sure
    assert by_run["buf generate"].watch == ["api/**/*.proto"] and not by_run["buf generate"].sure
    assert "go generate ./..." not in by_run  # its one directive runs templ, proposed on its own
    (root / "buf.gen.yaml").write_text("version: v2\n")
    assert any(g.run == "buf generate" and g.watch == ["**/*.proto"] and g.sure for g in detect_generators(root))


def test_one_main_package_writes_the_one_service_file_as_before(tmp_path: Path) -> None:
    root = module(tmp_path, {"cmd/svc/main.go": SERVES_ON.format(address=":8080"),
                             "examples/hello/main.go": "//go:build ignore\n\npackage main\n\nfunc main() {}\n"})
    init(root)
    text = (root / "hotgo.toml").read_text()
    assert "[services" not in text and "[[generate]]" not in text
    values, _ = toml_file.load(root / "hotgo.toml")  # today's loader reads it as it is
    assert values["build_package"] == "./cmd/svc"
    assert [str(address) for address in values["run_listen"]] == [":8080"]  # type: ignore[union-attr]
    # a generator the repository shows is added after it, the rest left as it was
    (root / "page.templ").write_text("package svc\n")
    (root / "hotgo.toml").unlink()  # else listed as a tool's config file the second time (as before)
    init(root)
    with_generator = (root / "hotgo.toml").read_text()
    assert with_generator.startswith(text)
    assert with_generator[len(text):] == ("\n# Code generators: `run` when a file matching `watch` changes.\n\n"
                                          "# hotgo init: templ files: page.templ\n[[generate]]\n"
                                          'watch = ["**/*.templ"]\nrun = "templ generate"\n')


def test_a_port_read_in_a_shared_package_makes_a_service_not_a_worker(tmp_path: Path) -> None:
    """Listening often lives in a package of the repository that each main imports."""
    shared = ('package shared\n\nimport (\n\t"net/http"\n\t"os"\n)\n\n'
              'func Serve() { http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil) }\n')
    main = 'package main\n\nimport "example.com/shop/internal/shared"\n\nfunc main() { shared.Serve() }\n'
    root = module(tmp_path, {"internal/shared/shared.go": shared, "cmd/api/main.go": main,
                             "cmd/web/main.go": main, "cmd/worker/main.go": WORKER})
    said = init(root).stdout
    text = (root / "hotgo.toml").read_text()
    assert '# listen = [":8080"]' in text.split("[services.api]", 1)[1].split("[services.web]", 1)[0]
    assert '# listen = [":8081"]' in text.split("[services.web]", 1)[1].split("[services.worker]", 1)[0]
    assert "worker: no port found" in said and "api: no port found" not in said
