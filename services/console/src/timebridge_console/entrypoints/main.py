"""``timebridge-console``: serve the console until SIGTERM."""

import asyncio
import sys

import uvicorn

from timebridge_common.logging import configure_logging
from timebridge_console.bootstrap import NAME, bootstrap
from timebridge_console.config import Settings


def main() -> int:
    settings = Settings()
    configure_logging(NAME, settings.telemetry)
    console = bootstrap(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            console.app,
            host=settings.http.host,
            port=settings.http.port,
            log_config=None,
            access_log=False,
        )
    )
    asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
