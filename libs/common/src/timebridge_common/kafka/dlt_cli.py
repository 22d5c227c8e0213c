"""``timebridge-dlt list|replay --topic <topic>.DLT``: inspect and replay dead letters.

A replayed letter reaches only the consumer group that dead-lettered it. Letters that failed as
``invalid`` are held back unless ``--include-invalid`` is given (after fixing what made them
invalid), since they would only fail again.
"""

import argparse
import asyncio
import sys

from timebridge_common.config import KafkaConfig
from timebridge_common.kafka.dlt import DLT_SUFFIX
from timebridge_common.kafka.replay import DeadLetter, choose, matches, read_dead_letters, send


def _line(letter: DeadLetter) -> str:
    r = letter.record
    return (
        f"{r.topic}@{r.partition}:{r.offset} event={letter.event_id or '-'} "
        f"group={letter.group} class={letter.error_class} attempts={letter.attempts} "
        f"reason={letter.reason!r}"
    )


async def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        async for letter in read_dead_letters(args.bootstrap_servers, args.topic):
            if matches(letter, group=args.group, event_ids=args.event_id):
                print(_line(letter))
        return 0
    letters, held_back = await choose(
        args.bootstrap_servers,
        args.topic,
        group=args.group,
        event_ids=args.event_id,
        include_invalid=args.include_invalid,
    )
    if not args.dry_run:
        await send(args.bootstrap_servers, args.topic, letters)
    for letter in letters:
        print(("would replay " if args.dry_run else "replayed ") + _line(letter))
    print(f"{len(letters)} dead letter(s) {'matched' if args.dry_run else 'replayed'}")
    if held_back:
        print(f"{len(held_back)} invalid dead letter(s) held back (--include-invalid replays them)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timebridge-dlt", description=__doc__)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument(
        "--topic", required=True, help=f"a dead-letter topic (ends in {DLT_SUFFIX})"
    )
    parser.add_argument("--group", help="only dead letters of this consumer group")
    parser.add_argument("--event-id", action="append", default=[], help="only this event id")
    parser.add_argument(
        "--include-invalid",
        action="store_true",
        help="also replay letters that failed as invalid (once their cause is fixed)",
    )
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--bootstrap-servers", default=KafkaConfig().bootstrap_servers)
    args = parser.parse_args(argv)
    if not args.topic.endswith(DLT_SUFFIX):
        parser.error(f"--topic must be a dead-letter topic ending in {DLT_SUFFIX}")
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
