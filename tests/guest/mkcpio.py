#!/usr/bin/env python3
# Write a "newc" cpio archive for a Linux initramfs, gzip-compressed when
# its name ends in .gz.
#
# Deterministic (fixed mtimes, uid/gid 0, sorted entries) and needs no
# root: device nodes are described, not copied.
#
#   mkcpio.py OUT.cpio.gz SPEC...
#
# each SPEC is one of
#   dir:PATH                       a directory (mode 755)
#   file:PATH=HOSTFILE[:MODE]      a file, mode octal (default: host's)
#   link:PATH=TARGET               a symbolic link
#   tree:PATH=HOSTDIR              every file/dir/symlink under HOSTDIR
#   cdev:PATH=MAJOR,MINOR          a character device (mode 600)
#
# SPDX-License-Identifier: GPL-2.0-or-later
import gzip
import os
import stat
import sys


def header(ino, mode, nlink, size, rmaj, rmin, name):
    namez = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin,
              len(namez), 0]
    h = b"070701" + b"".join(b"%08x" % f for f in fields)
    h += namez
    h += b"\0" * (-len(h) % 4)
    return h


def main():
    out, specs = sys.argv[1], sys.argv[2:]
    entries = {}  # path -> (mode, data, rdev)

    def add_dirs(path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            entries.setdefault(d, (stat.S_IFDIR | 0o755, b"", (0, 0)))

    def add(path, mode, data=b"", rdev=(0, 0)):
        path = path.strip("/")
        add_dirs(path)
        entries[path] = (mode, data, rdev)

    for spec in specs:
        kind, _, rest = spec.partition(":")
        if kind == "dir":
            add(rest, stat.S_IFDIR | 0o755)
            continue
        path, _, val = rest.partition("=")
        if kind == "file":
            host, _, m = val.partition(":")
            with open(host, "rb") as f:
                data = f.read()
            mode = int(m, 8) if m else stat.S_IMODE(os.stat(host).st_mode)
            add(path, stat.S_IFREG | mode, data)
        elif kind == "link":
            add(path, stat.S_IFLNK | 0o777, val.encode())
        elif kind == "cdev":
            ma, mi = (int(x) for x in val.split(","))
            add(path, stat.S_IFCHR | 0o600, b"", (ma, mi))
        elif kind == "tree":
            for root, dirs, files in os.walk(val):
                dirs.sort()
                rel = os.path.relpath(root, val)
                base = path.strip("/") if rel == "." else \
                    path.strip("/") + "/" + rel
                if base:
                    add(base, stat.S_IFDIR | 0o755)
                for n in sorted(files + [d for d in dirs
                                         if os.path.islink(os.path.join(root, d))]):
                    h = os.path.join(root, n)
                    p = (base + "/" + n) if base else n
                    if os.path.islink(h):
                        add(p, stat.S_IFLNK | 0o777, os.readlink(h).encode())
                    else:
                        with open(h, "rb") as f:
                            add(p, stat.S_IFREG | stat.S_IMODE(os.stat(h).st_mode),
                                f.read())
        else:
            sys.exit("mkcpio: bad spec %r" % spec)

    gz = out.endswith(".gz") or out.endswith(".gz.new")
    with open(out + ".tmp", "wb") as raw:
        with (gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6)
              if gz else raw) as z:
            ino = 1
            for path in sorted(entries):
                mode, data, rdev = entries[path]
                z.write(header(ino, mode, 2 if stat.S_ISDIR(mode) else 1,
                               len(data), rdev[0], rdev[1], path))
                z.write(data)
                z.write(b"\0" * (-len(data) % 4))
                ino += 1
            z.write(header(0, 0, 1, 0, 0, 0, "TRAILER!!!"))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
