"""``timebridge-reporting``: run the reporting service until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_reporting.bootstrap import NAME, bootstrap
from timebridge_reporting.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
