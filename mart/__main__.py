"""``python -m mart``: the command line."""

import sys

try:
    from mart.cli import main

    code = main()
except KeyboardInterrupt:
    # Ctrl-C while the command line loads or reads its arguments, before main() can
    # catch it (a traceback through build_parser was printed in the first second)
    print("interrupted", file=sys.stderr)
    code = 2
sys.exit(code)
