"""``python -m postwire ...``: the same command line as the ``postwire`` binary."""

import sys

from ._postwire import cli_main


def main() -> int:
    return cli_main(["postwire", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
