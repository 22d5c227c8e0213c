"""``timebridge-topics create|list``: create the platform's topics, or print the catalogue."""

import argparse
import asyncio
import sys

from timebridge_common.config import KafkaConfig
from timebridge_common.kafka.topics import all_topics, ensure_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timebridge-topics", description=__doc__)
    parser.add_argument("command", choices=["create", "list"])
    parser.add_argument("--bootstrap-servers", default=KafkaConfig().bootstrap_servers)
    parser.add_argument("--partitions", type=int, default=KafkaConfig().partitions)
    parser.add_argument("--replication-factor", type=int, default=KafkaConfig().replication_factor)
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(all_topics()))
        return 0
    config = KafkaConfig(
        bootstrap_servers=args.bootstrap_servers,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
    )
    created = asyncio.run(ensure_topics(config))
    print(f"created {len(created)} topic(s)" + (": " + ", ".join(created) if created else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
