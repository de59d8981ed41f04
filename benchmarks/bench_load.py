"""Both Lambda handlers under load (issue #12): 100 launch events, then 100 terminal events each delivered twice,
handled by the real handlers against a moto server (ThreadedMotoServer, tests/hostile/load.py).

Each phase runs twice in the same run on fresh worlds: one after the other (the baseline) and on 16 threads.
Printed: throughput (events/s) and p95 latency (ms) of each, and the concurrent/sequential throughput ratio;
the counts (jobs, tokens, callbacks) are checked by tests/hostile/test_load.py and repeated here for the record.
Run: ``.venv/bin/python -m benchmarks.bench_load [--events 100] [--threads 16]``.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any


def _phase(events: int, threads: int) -> dict[str, Any]:
    from lambda_handler.job_events import handler as job_events
    from lambda_handler.launch import handler as launch
    from tests.aws_env import FakeLambdaContext
    from tests.hostile.load import finish_all, launch_events, run_all, server_world, terminal_event
    from tests.hostile.test_job_events_hostile import CallbackCounter

    with server_world() as world:
        launched = run_all(lambda e: launch(e, FakeLambdaContext()), launch_events(events, tag=f"t{threads}"), threads=threads)
        names = [o["trainingJobName"] for o in launched.results]
        counter = CallbackCounter(world.clients.stepfunctions)
        finish_all(names)
        answered = run_all(lambda e: job_events(e, FakeLambdaContext()), [terminal_event(n) for n in names] * 2, threads=threads)
    return {"launch": launched, "events": answered, "jobs": len(set(names)), "callbacks": len(counter.calls)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # the handlers' JSON logs are not the measurement
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.disable(logging.WARNING)
    from local_mode import moto_fidelity

    moto_fidelity.install()
    sequential = _phase(args.events, 1)
    concurrent = _phase(args.events, args.threads)
    for handler in ("launch", "events"):
        base, load = sequential[handler], concurrent[handler]
        print(
            f"{handler:<7} {len(load.latencies):>4} calls | sequential {base.throughput:7.1f}/s p95 {base.p95 * 1000:7.1f} ms"
            f" | {args.threads} threads {load.throughput:7.1f}/s p95 {load.p95 * 1000:7.1f} ms"
            f" | throughput ratio {load.throughput / base.throughput:4.2f}x"
        )
    print(f"counts ({args.threads} threads): jobs {concurrent['jobs']}, callbacks {concurrent['callbacks']} for {2 * args.events} terminal deliveries")
    ok = concurrent["jobs"] == args.events and concurrent["callbacks"] == args.events
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
