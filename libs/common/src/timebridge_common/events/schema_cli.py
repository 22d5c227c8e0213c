"""``timebridge-schemas write|check [DIR]``: publish or verify the event JSON Schemas."""

import argparse
import json
import sys
from pathlib import Path

from timebridge_common.events.catalog import ALL_EVENTS
from timebridge_common.events.schemas import generate, revisions, write_new_revision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timebridge-schemas", description=__doc__)
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("dir", nargs="?", default="schemas", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for model in ALL_EVENTS:
        if args.command == "write":
            try:
                path = write_new_revision(args.dir, model)
            except ValueError as exc:
                print(exc, file=sys.stderr)
                status = 1
                continue
            print(f"{model.type_name()}: {'wrote ' + str(path) if path else 'unchanged'}")
        else:
            existing = revisions(args.dir, model)
            if not existing or json.loads(existing[-1].read_text()) != generate(model):
                print(f"{model.type_name()}: schema out of date, run make schemas", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
