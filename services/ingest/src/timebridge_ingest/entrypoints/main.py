"""``timebridge-ingest``: run the ingest service until SIGTERM."""

import gc
import sys

from timebridge_common.runtime import run_main
from timebridge_ingest.bootstrap import NAME, bootstrap
from timebridge_ingest.config import Settings


def main() -> int:
    # What the imports made lives as long as the process: out of the collector's sight, a full
    # collection no longer walks it while webhooks are accepted (as mapping does, issue 12).
    gc.freeze()
    return run_main(NAME, Settings, bootstrap)


if __name__ == "__main__":
    sys.exit(main())
