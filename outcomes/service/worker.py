"""The queue's worker processes: ``python -m outcomes.service.worker --data DIR [--database URL] --workers N``.

Started by ``outcomes serve``; dies with it. Each huey worker process loads the models
once, then runs assessments one at a time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from outcomes.service.jobs import die_with_parent, make_queue
from outcomes.service.settings import ServiceSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outcomes-worker")
    parser.add_argument("--data", required=True)
    parser.add_argument("--database")
    parser.add_argument("--config")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--poll", type=float, default=0.1)
    args = parser.parse_args(argv)
    die_with_parent()
    # huey forks its worker and scheduler processes; each of them dies with this one too
    os.register_at_fork(after_in_child=die_with_parent)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s outcomes-worker %(levelname)s %(message)s")
    settings = ServiceSettings(data_dir=Path(args.data), database_url=args.database, config_path=args.config,
                               queue_poll_s=args.poll)
    huey = make_queue(settings, worker=True).huey
    consumer = huey.create_consumer(workers=max(1, args.workers), worker_type="process", periodic=False,
                                    initial_delay=min(0.05, args.poll), backoff=1.2, max_delay=args.poll,
                                    check_worker_health=True, health_check_interval=2)
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
