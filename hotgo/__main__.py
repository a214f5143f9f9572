"""`python -m hotgo` and the `hotgo` command.

The stop signals are handled from the first line on (hotgo/stop_signals.py), before the imports
that take most of a start: Ctrl-C at any moment ends hotgo without a traceback.
"""

import sys

from hotgo import stop_signals


def main() -> int:
    stop_signals.install()
    try:
        with stop_signals.interruptible():
            from hotgo.cli import main as run_command
    except stop_signals.Stopped as stop:  # during the imports; cli.main answers for the rest
        command = next((word for word in sys.argv[1:] if not word.startswith("-")), "")
        return stop.exit_code(command)
    return run_command()


if __name__ == "__main__":
    raise SystemExit(main())
