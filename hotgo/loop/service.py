"""What one supervisor runs: the settings and what was resolved from them before the loop starts."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from hotgo.build.go_build import BuildFiles
from hotgo.build.go_module import GoPackage
from hotgo.choices import SocketMode
from hotgo.handoff.shared_port import SharedPort
from hotgo.settings.addresses import ListenAddress
from hotgo.settings.schema import Settings
from hotgo.watch.filters import PathFilter


@dataclass(frozen=True)
class Service:
    settings: Settings
    package: GoPackage
    go: str  # the go command ("" in artifact mode)
    shared: SharedPort  # the listen addresses, hotgo's sockets, the socket mode in effect
    workdir: Path  # where the service runs
    state_dir: Path  # .hotgo/ at the module root
    notify_dir: Path  # where each generation's NOTIFY_SOCKET lives
    config_filter: Optional[PathFilter] = None  # the service's own config files ([config] files)
    artifact: Optional[Path] = None  # artifact mode: deploy this prebuilt binary, never build

    @property
    def mode(self) -> SocketMode:
        return self.shared.mode

    @property
    def addresses(self) -> Tuple[ListenAddress, ...]:
        return self.shared.addresses

    @property
    def listeners(self) -> Tuple[socket.socket, ...]:
        return self.shared.listeners

    @property
    def bin_dir(self) -> Path:
        return self.files.bin_dir

    @property
    def ports(self) -> Tuple[int, ...]:
        return self.shared.ports

    @property
    def shown_addresses(self) -> List[str]:
        return [str(a) for a in self.addresses]

    @property
    def inherited(self) -> Sequence[socket.socket]:
        return self.shared.inherited

    @property
    def files(self) -> BuildFiles:
        return BuildFiles(self.state_dir / "bin", self.package.name)

    def binary(self, number: int) -> Path:
        return self.files.binary(number)
