"""Pre-signed Core webhooks for ``wrk``: the load generator spends no Python CPU per request.

Each request is a distinct delivery (its own delivery id, entry id and user), signed with the
workspace secret when the script is written, so the signatures stay valid for the tolerance
(5 minutes, far longer than a measurement) and every request must be published (none is
answered from the replay window). The Lua script holds the signatures as one fixed-width
string (LuaJIT limits a chunk's constants) and builds each body from one template by
substituting the request number, exactly as Python did before signing. Each wrk thread walks
its own slice, so no two requests of a run share a delivery id; a run that outgrows its pool
is reported (``exhausted``), never silently counted.
"""

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from timebridge_ingest.domain.core_webhook import sign

MARK = "NNNNNN"
"""Stands for the request number in the body template (plain text in Lua's ``gsub`` too)."""


def template(workspace: str, run: str) -> str:
    """A ``time_entry.created`` body; every ``MARK`` becomes the request number."""
    return json.dumps(
        {
            "id": f"dlv-{run}-{MARK}",
            "type": "time_entry.created",
            "workspace_id": workspace,
            "occurred_at": "2026-11-21T10:00:00Z",
            "data": {
                "time_entry": {
                    "id": f"te-{run}-{MARK}",
                    "user": {"id": f"u-{MARK}", "email": f"user{MARK}@bench.test"},
                    "project_id": "p-bench",
                    "ticket_id": "T-bench",
                    "date": "2026-11-21",
                    "started_at": "2026-11-21T08:00:00Z",
                    "duration_seconds": 900,
                    "notes": f"bench entry {MARK}",
                    "billable": True,
                    "timezone": "Europe/Berlin",
                    "updated_at": "2026-11-21T09:00:00Z",
                    "version": 1,
                }
            },
        },
        separators=(",", ":"),
    )


LUA = """
local body_template = %(template)s
local path = %(path)s
local first = %(first)d
local pool = %(pool)d
local sigs = %(sigs)s
local width = %(width)d
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  thread:set("stride", %(threads)d)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  next_i = tid
  issued = 0
  wrapped = 0
end

function request()
  local i = next_i
  next_i = next_i + stride
  if next_i >= pool then next_i = tid; wrapped = 1 end
  issued = issued + 1
  local n = tostring(first + i)
  local body = string.gsub(body_template, "%(mark)s", n)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Core-Signature"] = string.sub(sigs, i * width + 1, (i + 1) * width),
  }, body)
end

function done(summary, latency, requests)
  local exhausted = 0
  for _, t in ipairs(threads) do exhausted = exhausted + t:get("wrapped") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"exhausted":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    exhausted))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def write_script(
    directory: Path,
    name: str,
    *,
    secret: str,
    workspace: str,
    url_path: str,
    run: str,
    first: int,
    pool: int,
    threads: int,
) -> Path:
    """Write a wrk script of ``pool`` requests numbered from ``first``, signed now."""
    body = template(workspace, run)
    now = int(time.time())
    sigs = [sign(secret, now, body.replace(MARK, str(first + i)).encode()) for i in range(pool)]
    width = len(sigs[0])  # t=<10 digits>,v1=<64 hex>: fixed width, one Lua string
    assert all(len(s) == width for s in sigs)
    script = directory / f"{name}.lua"
    script.write_text(
        LUA
        % {
            "template": lua_string(body),
            "path": lua_string(url_path),
            "first": first,
            "pool": pool,
            "sigs": lua_string("".join(sigs)),
            "width": width,
            "threads": threads,
            "mark": MARK,
        }
    )
    return script


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    exhausted: bool

    @property
    def per_second(self) -> float:
        """Answered-2xx requests per second (errors do not count as throughput)."""
        ok = self.requests - self.non2xx
        return ok / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: `apt-get install wrk` (make bench installs it)")
    return found


def run_wrk(script: Path, url: str, *, connections: int, threads: int, seconds: int) -> WrkResult:
    """Run wrk for ``seconds`` (bounded: killed after twice that) and parse its summary."""
    out = subprocess.run(  # noqa: S603 - wrk from PATH, our own arguments
        [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 2 + 30,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        non2xx=raw["non2xx"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        exhausted=raw["exhausted"] > 0,
    )
