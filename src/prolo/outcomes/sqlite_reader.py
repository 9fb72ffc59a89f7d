"""Read one query from a SQLite file through ADBC and write the rows to standard output as an
Arrow IPC stream. Run as its own process (``python -m prolo.outcomes.sqlite_reader PATH`` with
the SQL on standard input): ADBC links its own copy of the SQLite library, which must never share
a process with the application's connections (see ``extract.read_arrow``)."""

from __future__ import annotations

import sys


def main() -> None:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    import pyarrow as pa

    path, sql = sys.argv[1], sys.stdin.read()
    connection = adbc_sqlite.connect(path)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
        cursor.close()
    finally:
        connection.close()
    with pa.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        writer.write_table(table)


if __name__ == "__main__":
    main()
