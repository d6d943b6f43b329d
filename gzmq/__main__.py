"""``python -m gzmq``: the gzmq command line (see gzmq.cli)."""

import sys

from gzmq.cli import main

if __name__ == "__main__":
    sys.exit(main())
