"""Several services in one hotgo.toml ([services.NAME]) and on the command line (several PKG):
what each service's settings become, and the one clear line for every mistake. No Go needed."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from hotgo import cli, run_plan
from hotgo.errors import UsageError
from hotgo.run_plan import Planned

TWO_SERVICES = """\
[build]
flags = ["-tags", "dev"]

[run]
drain_timeout = "3s"

[services.api]
package = "./cmd/api"
listen = ["127.0.0.1:18080"]
env = { MODE = "api" }
build_env = { CGO_ENABLED = "0" }

[services.api.config]
files = ["config/api.json"]
push = "signal:SIGUSR1"

[services.worker]
package = "./cmd/worker"
drain_timeout = "1s"
"""


def plan(root: Path, argv: List[str], config: str = "") -> List[Planned]:
    if config:
        (root / "hotgo.toml").write_text(config)
    (root / "go.mod").write_text("module example.com/shop\n\ngo 1.22\n")
    args, app_args = argv, []
    if "--" in argv:
        split = argv.index("--")
        args, app_args = argv[:split], argv[split + 1:]
    namespace, unknown = cli.build_parser().parse_known_args(["run", *args])
    assert not unknown
    return run_plan.plan_services(namespace, app_args, root)


def refused(root: Path, argv: List[str], config: str = "") -> str:
    with pytest.raises(UsageError) as caught:
        plan(root, argv, config)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_each_service_gets_its_table_over_the_top_level_defaults(tmp_path: Path) -> None:
    api, worker = plan(tmp_path, [], TWO_SERVICES)
    assert (api.name, worker.name) == ("api", "worker")
    assert api.settings.build_package == "./cmd/api" and worker.settings.build_package == "./cmd/worker"
    assert api.settings.build_flags == ["-tags", "dev"] == worker.settings.build_flags  # a default for both
    assert api.settings.run_drain_timeout == 3.0 and worker.settings.run_drain_timeout == 1.0
    assert api.settings.run_env == {"MODE": "api"} and api.settings.build_env == {"CGO_ENABLED": "0"}
    assert api.settings.config_files == ["config/api.json"] and api.settings.config_push == "signal:SIGUSR1"
    assert [a.port for a in api.settings.run_listen] == [18080] and not worker.settings.run_listen
    assert api.where["run_drain_timeout"].endswith(":5: [run] drain_timeout")
    assert worker.where["run_drain_timeout"].endswith(":19: [services.worker] drain_timeout")


def test_names_on_the_command_line_pick_services(tmp_path: Path) -> None:
    [worker] = plan(tmp_path, ["worker"], TWO_SERVICES)
    assert worker.name == "worker"
    message = refused(tmp_path, ["./cmd/api"], TWO_SERVICES)
    assert "'./cmd/api' is none of them" in message and "api, worker" in message


def test_flags_apply_to_every_service_but_one_services_own_flags_are_refused(tmp_path: Path) -> None:
    api, worker = plan(tmp_path, ["--profile", "debug"], TWO_SERVICES)
    assert api.settings.build_profile == worker.settings.build_profile == "debug"
    assert "--listen" in refused(tmp_path, ["--listen", ":9999"], TWO_SERVICES)
    assert "-- ARGS" in refused(tmp_path, ["--", "-v"], TWO_SERVICES)
    assert "`browser.listen`" in refused(tmp_path, ["--browser", "127.0.0.1:3000"], TWO_SERVICES)
    assert "`front.listen`" in refused(tmp_path, ["--front", "127.0.0.1:3001"], TWO_SERVICES)


def test_a_service_has_a_front_door_of_its_own(tmp_path: Path) -> None:
    config = TWO_SERVICES.replace("[services.worker]", '[services.api.front]\nlisten = "127.0.0.1:18090"\n\n'
                                  "[services.worker]")
    api, worker = plan(tmp_path, [], config)
    assert api.settings.front_listen == "127.0.0.1:18090" and worker.settings.front_listen == ""
    assert "front.listen: 127.0.0.1:18090 is also given at" in refused(
        tmp_path, [], config + '\n[services.worker.front]\nlisten = "127.0.0.1:18090"\n')


@pytest.mark.parametrize(("config", "expected"), [
    ('[services.api]\npackge = "."\n', ":2: [services.api] packge: unknown key; did you mean `package`?"),
    ('[services.api]\nwatch = ["x"]\n', "[watch] is one for all services"),
    ('[services.api]\nconfig = "x.json"\n', "[services.api] config: unknown key"),
    ('[services.api.config]\nfile = ["a.json"]\n', ":2: [services.api] config.file: unknown key; did you mean"),
    ('[services."my api"]\npackage = "."\n', "service name 'my api' is not valid"),
    ('[services.api]\nready = "soon"\n', ":2: [services.api] ready: ready 'soon' is not one of"),
    ('[run]\nlisten = [":8080"]\n[services.api]\npackage = "."\n', ":2: [run] listen: with [services.NAME] tables "
     "this belongs to one service"),
    ('[services.api]\nlisten = [":8080"]\n[services.web]\nlisten = ["127.0.0.1:8080"]\n',
     ":4: [services.web] listen: 127.0.0.1:8080 is also given at"),
    ("services = 3\n", "write one table per service"),
])
def test_a_wrong_service_table_is_one_line_naming_the_file_line_and_fix(tmp_path: Path, config: str,
                                                                        expected: str) -> None:
    assert expected in refused(tmp_path, [], config)


def test_two_services_may_run_one_package_with_other_arguments(tmp_path: Path) -> None:
    config = ('[services.eu]\npackage = "./cmd/api"\nargs = ["-region", "eu"]\n'
              '[services.us]\npackage = "./cmd/api"\nargs = ["-region", "us"]\n')
    eu, us = plan(tmp_path, [], config)
    assert eu.settings.build_package == us.settings.build_package and eu.settings.run_args != us.settings.run_args


def test_several_packages_are_a_service_each_named_after_their_directory(tmp_path: Path) -> None:
    for directory in ("cmd/api", "cmd/worker", "v1/admin", "v2/admin"):
        (tmp_path / directory).mkdir(parents=True)
    names = [p.name for p in plan(tmp_path, ["./cmd/api", "./cmd/worker", "./v1/admin", "./v2/admin"])]
    assert names == ["api", "worker", "v1-admin", "v2-admin"]
    [root, _api] = plan(tmp_path, [".", "./cmd/api"])
    assert root.name == "shop" and root.settings.build_package == "."  # the module's own name
    assert "name the same package twice" in refused(tmp_path, ["./cmd/api", "./cmd/api/"])


def test_one_service_stays_unnamed(tmp_path: Path) -> None:
    [only] = plan(tmp_path, ["./cmd/api", "--listen", "127.0.0.1:18081"])
    assert only.name == "" and only.settings.build_package == "./cmd/api"
