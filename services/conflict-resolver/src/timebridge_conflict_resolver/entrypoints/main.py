"""``timebridge-conflict-resolver``: run the conflict-resolver service until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_conflict_resolver.bootstrap import NAME, bootstrap
from timebridge_conflict_resolver.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
