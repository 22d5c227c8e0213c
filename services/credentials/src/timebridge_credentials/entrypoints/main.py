"""``timebridge-credentials``: run the credential owner until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_credentials.bootstrap import NAME, bootstrap
from timebridge_credentials.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
