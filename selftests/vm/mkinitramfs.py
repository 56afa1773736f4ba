#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write a gzip-compressed newc cpio archive (an initramfs) from a list.

Usage: mkinitramfs.py OUTPUT.cpio.gz < LIST

LIST has the format of the kernel's usr/gen_init_cpio, one entry a line:

    dir   NAME MODE
    file  NAME SOURCE MODE
    slink NAME TARGET MODE
    nod   NAME MODE c|b MAJOR MINOR

Everything is owned by root, with mtime 0, so that the archive needs no
privileges to build and depends only on its contents.  Parent directories
are added as needed.
"""

import gzip
import os
import sys


class Cpio:
    def __init__(self, out):
        self.out = out
        self.ino = 300000
        self.seen = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        self.ino += 1
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0,
            rdev[0], rdev[1], len(name_b), 0))
        buf = hdr.encode() + name_b
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(data) % 4)
        self.out.write(buf)

    def _parents(self, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.seen:
                self.seen.add(d)
                self._entry(d, 0o040755, nlink=2)

    def add(self, kind, name, *args):
        name = name.strip("/")
        if name in self.seen:
            return
        self._parents(name)
        self.seen.add(name)
        if kind == "dir":
            self._entry(name, 0o040000 | int(args[0], 8), nlink=2)
        elif kind == "file":
            with open(args[0], "rb") as f:
                data = f.read()
            self._entry(name, 0o100000 | int(args[1], 8), data)
        elif kind == "slink":
            self._entry(name, 0o120000 | int(args[1], 8), args[0].encode())
        elif kind == "nod":
            typ = 0o020000 if args[1] == "c" else 0o060000
            self._entry(name, typ | int(args[0], 8),
                        rdev=(int(args[2]), int(args[3])))
        else:
            raise ValueError("unknown entry type %r" % kind)

    def close(self):
        self._entry("TRAILER!!!", 0)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1,
                          mtime=0) as gz:
        cpio = Cpio(gz)
        for lineno, line in enumerate(sys.stdin, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            try:
                cpio.add(*words)
            except (ValueError, IndexError, TypeError, OSError) as e:
                sys.exit("mkinitramfs: line %d: %s: %s" % (lineno, line.strip(), e))
        cpio.close()
    os.replace(tmp, sys.argv[1])


if __name__ == "__main__":
    main()
