"""`python -m raytrain.launch.wait_nodes --address HOST:PORT [--nodes N]`: block until N
nodes of a Ray cluster are alive (exit 0) or the timeout passes (exit 1).

The sbatch job runs this between starting Ray and starting the tuner, so that the search
plans its concurrency for the whole allocation rather than for the nodes that happened to
be up first. It asks Ray itself (a driver's `ray.nodes()`), not `ray status`'s text.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

import ray

from raytrain.launch.environment import JobEnvironment


def alive_nodes(nodes: list[dict]) -> int:
    return sum(1 for node in nodes if node.get("Alive"))


def main(argv: Sequence[str] | None = None) -> int:
    env = JobEnvironment.from_environ()
    parser = argparse.ArgumentParser(prog="python -m raytrain.launch.wait_nodes")
    parser.add_argument("--address", required=True)
    parser.add_argument("--nodes", type=int, default=env.num_nodes)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    ray.init(address=args.address, log_to_driver=False, logging_level=logging.ERROR)
    try:
        while True:
            alive = alive_nodes(ray.nodes())
            if alive >= args.nodes:
                print(f"{alive}/{args.nodes} Ray nodes alive", flush=True)
                return 0
            if time.monotonic() > deadline:
                print(
                    f"only {alive}/{args.nodes} Ray nodes after {args.timeout:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(1.0)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
