#!/usr/bin/env python3
"""Which tables and indexes the pages in a SQLite WAL belong to.

    scripts/wal_pages.py DATABASE COPY_OF_ITS_WAL

Every page a commit changes is written whole to the WAL (and later copied back into the
database file by a checkpoint), so counting the WAL's frames by b-tree shows what a
commit writes. Reads the frames of the WAL's current generation (those whose salt
matches the header's), names each page with SQLite's `dbstat` table on the database
(read-only; stop the server first, so that it holds every page), and prints frames per
b-tree, in all and per commit. A page freed since is named "(freed)". Used by
`scripts/bench.sh wal`.
"""

import collections
import sqlite3
import struct
import sys


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    db, wal_path = sys.argv[1], sys.argv[2]
    with open(wal_path, "rb") as f:
        wal = f.read()
    if len(wal) < 32:
        sys.exit(f"{wal_path}: not a WAL (only {len(wal)} bytes)")
    magic, _version, page_size, _checkpoint, salt1, salt2 = struct.unpack(">IIIIII", wal[:24])
    if magic not in (0x377F0682, 0x377F0683):
        sys.exit(f"{wal_path}: not a WAL (magic {magic:#x})")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    frames = collections.Counter()
    commits = 0
    offset = 32
    while offset + 24 + page_size <= len(wal):
        page, size_after_commit, s1, s2 = struct.unpack(">IIII", wal[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break
        frames[names.get(page, "(freed)")] += 1
        commits += size_after_commit != 0
        offset += 24 + page_size
    total = sum(frames.values())
    print(f"  {total} frames of {page_size} bytes in {commits} commits")
    for name, n in frames.most_common():
        print(f"  {name:36} {n:7}  {100 * n / max(total, 1):5.1f} %  {n / max(commits, 1):7.2f} per commit")


if __name__ == "__main__":
    main()
