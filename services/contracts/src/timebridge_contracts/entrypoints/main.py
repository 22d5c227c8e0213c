"""``timebridge-contracts``: run the contracts service until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_contracts.bootstrap import NAME, bootstrap
from timebridge_contracts.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
