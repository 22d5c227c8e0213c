"""``timebridge-mapping``: run the mapping service until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_mapping.bootstrap import NAME, bootstrap
from timebridge_mapping.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
