"""What the database door's checks cost on each read path: milliseconds of CPU per read, in process.

Every value lrox reads back from a database passes its column's checked type (structures/doors/
databases.py): a number column one plain function call per value, a JSON column the data door and
its shape. This prints the CPU time of the read paths the commands use, on one database, so that a
tree with the checks and one without can be compared on the same file (run it with PYTHONPATH set to
each tree; the whole commands' figures come from benchmarks/scale.py).

    PYTHONPATH=. python benchmarks/database_door.py --db sqlite:///db_1000.db
    PYTHONPATH=/path/to/other/tree python benchmarks/database_door.py --db sqlite:///db_1000.db

A database to read: ``benchmarks/scale.py``'s ``copied_database(url, 1000)`` (the committed example
copied under new ids through the store's write). Results: benchmarks/RESULTS.md ("Database door").
"""

from __future__ import annotations

import argparse
import json
import os
import time


def read_paths(db) -> dict:
    """The reads the commands make, each a function of nothing."""
    from descriptors.query.configurations import long_table
    from descriptors.query.hops import query_hops
    from descriptors.store.tables import ConfigurationRow

    return {
        "configuration view (lrox query: floats, integers, text)": lambda: db.configuration_view(with_mu=False),
        "configuration view with mu (--oxygen: and one JSON object a row)": lambda: db.configuration_view(with_mu=True),
        "long_table at --oxygen": lambda: long_table(db, oxygen=(1173.0, 0.21)),
        "query_hops (lrox query hops, report, export)": lambda: query_hops(db),
        "configuration rows (report: each summary's shape)": lambda: db.rows(ConfigurationRow),
    }


def main() -> None:
    from descriptors.store.database import DescriptorDatabase

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the database to read (a URL)")
    parser.add_argument("--repeats", type=int, default=15, help="reads of each path; the least CPU time is printed")
    args = parser.parse_args()
    db = DescriptorDatabase(args.db, read_only=True)
    for name, read in read_paths(db).items():
        read()  # warm: imports and SQLAlchemy's statement cache
        best = float("inf")
        for _ in range(args.repeats):
            started = time.process_time()
            read()
            best = min(best, time.process_time() - started)
        print(json.dumps({"read": name, "cpu_ms": round(best * 1000, 1), "load": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
