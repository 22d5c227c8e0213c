"""``timebridge-invoice-export``: run the invoice-export service until SIGTERM."""

import sys

from timebridge_common.runtime import run_main
from timebridge_invoice_export.bootstrap import NAME, bootstrap
from timebridge_invoice_export.config import Settings


def main() -> int:
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
