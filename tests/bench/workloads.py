# The benchmark workloads, described once and run three ways: in the
# guest under qemu-system-arm (softmmu or ESPT), and under qemu-arm user
# mode with the same binaries and inputs.  The same workloads run on the
# arm64 guest (qemu-system-aarch64, qemu-aarch64) from Debian's arm64
# packages: isa "armhf" or "arm64"; only paths that name the Debian
# multiarch triplet differ (cc1).
#
# A workload is a list of steps, each one process with its argv, stdin
# and stdout.  A step's stdout goes to out.NN (optionally only the lines
# matching `keep`, for programs that also print timings); a step may also
# write out.* files itself.  The workload's checksum is the MD5 of all
# out.* files in name order: the same definition in the guest (md5sum)
# and on the host (hashlib), so a fast wrong answer fails the run.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import shlex

IN = "/bench/in"
BIN = "/bench/bin"
ISAS = ("armhf", "arm64")
TRIPLET = {"armhf": "arm-linux-gnueabihf", "arm64": "aarch64-linux-gnu"}


def cc1(isa="armhf"):
    """gcc 12's compiler proper in Debian's cpp-12 of that ISA."""
    return "/usr/lib/gcc/%s/12/cc1" % TRIPLET[isa]


CC1 = cc1("armhf")


class Step:
    def __init__(self, argv, stdin=None, stdout=True, keep=None, drive=None):
        self.argv = argv            # argv[0] is an absolute guest path
        self.stdin = stdin          # guest path or None (/dev/null)
        self.stdout = stdout        # False: discard (the step writes out.*)
        self.keep = keep            # extended regex: checksum these lines only
        self.drive = drive          # guest path of a drive script (see drive.c)


class Workload:
    def __init__(self, name, group, steps, user=True, doc=""):
        self.name = name
        self.group = group          # "compute" or "kernel"
        self.steps = steps
        self.user = user            # single process: also run under qemu-arm
        self.doc = doc


def tools_steps(rounds):
    """A pipeline of short-lived tool processes, each reading what the
    one before wrote (out.NN files of this workload's directory)."""
    steps = []
    for r in range(rounds):
        base = len(steps)

        def o(k):
            return "out.%02d" % (base + k)
        steps += [
            Step(["/bin/sed", "-n", "%d~%dp" % (r + 1, rounds), IN + "/text512k.txt"]),
            Step(["/bin/sed", "-E", r"s/[^A-Za-z]+/\n/g", o(1)]),
            Step(["/usr/bin/sort", o(2)]),
            Step(["/usr/bin/uniq", "-c", o(3)]),
            Step(["/usr/bin/sort", "-k1,1nr", "-k2", o(4)]),
            Step(["/usr/bin/head", "-n", "40", o(5)]),
            Step(["/usr/bin/gawk", "{ n += $1; l += length($2) } END { print n, l }", o(4)]),
            Step(["/usr/bin/wc", "-l", "-c", o(2)]),
        ]
    return steps


def _all(scale, isa="armhf"):
    """Workloads; scale 'full' for benchmarking, 'tiny' for make check."""
    full = scale == "full"
    CC1 = cc1(isa)
    W = []
    W.append(Workload("perl", "compute", [
        Step(["/usr/bin/perl", IN + "/bench.pl", IN + ("/text512k.txt" if full else "/text64k.txt")]),
    ], doc="perlbench-style: hashes, regexes, sorting over 512 KiB of text"))
    W.append(Workload("bzip2", "compute", [
        Step(["/bin/bzip2", "-9", "-c", IN + ("/text6m.txt" if full else "/text64k.txt")]),
        Step(["/bin/bzip2", "-d", "-c", "out.01"]),
    ], doc="bzip2 -9 on 6 MiB of text, then decompress"))
    W.append(Workload("gcc", "compute", [
        Step([CC1, "-fpreprocessed", "-quiet", "-O2", IN + "/decompress.i", "-o", "out.01"], stdout=False),
        Step([CC1, "-fpreprocessed", "-quiet", "-O2", IN + "/huffman.i", "-o", "out.02"], stdout=False),
    ] if full else [
        Step([CC1, "-fpreprocessed", "-quiet", "-O1", IN + "/huffman.i", "-o", "out.01"], stdout=False),
    ], doc="gcc 12 cc1 -O2 on two of bzip2's sources (preprocessed)"))
    W.append(Workload("gnugo", "compute", [
        Step(["/usr/games/gnugo", "--seed", "1", "--mode", "gtp", "--gtp-input",
              IN + ("/gnugo.gtp" if full else "/gnugo-small.gtp")]),
    ], doc="gnugo level 8 plays itself on 13x13 (GTP, fixed random seed)"))
    W.append(Workload("sjeng", "compute", [
        Step([BIN + "/drive", IN + ("/sjeng.drive" if full else "/sjeng-small.drive"),
              "/usr/games/sjeng"],
             keep=r"^(Nodes: |[a-h][1-8][a-h][1-8][qrbn]?$)",
             drive=IN + ("/sjeng.drive" if full else "/sjeng-small.drive")),
    ], doc="sjeng fixed-depth search of three middle-game positions"))
    W.append(Workload("xalan", "compute", [
        Step(["/usr/bin/Xalan", IN + ("/items.xml" if full else "/items-small.xml"),
              IN + "/report.xsl"]),
    ], doc="Xalan-C XSLT: grouping, sorting, string functions over 8k items"))
    W.append(Workload("python", "compute", [
        Step(["/usr/bin/python3", IN + "/bench.py", IN + ("/text512k.txt" if full else "/text64k.txt")]),
    ], doc="python3: regexes, a word model in dicts and objects, json"))
    W.append(Workload("sqlite", "compute", [
        Step(["/usr/bin/sqlite3", ":memory:", "-init", IN + ("/bench.sql" if full else "/small.sql"),
              ".quit"]),
    ], doc="sqlite3 in memory: generated rows, indexes, joins, window functions"))

    # Programs outside the CINT2006 kind ("wider"), so that the figures
    # we report are not tuned to one family: an allocation-heavy
    # interpreter, a JIT runtime, and a pipeline of short-lived tools.
    W.append(Workload("lua", "wider", [
        Step(["/usr/bin/lua5.4", IN + "/bench.lua", "14" if full else "6",
              IN + ("/text512k.txt" if full else "/text64k.txt")]),
    ], doc="lua5.4: binary trees (garbage collection), a word count, closures"))
    W.append(Workload("luajit", "wider", [
        Step(["/usr/bin/luajit", IN + "/jit.lua", "7" if full else "2"]),
    ], doc="luajit: its JIT compiles the hot loops to ARM (AArch64) code while it runs"))
    W.append(Workload("tools", "wider", tools_steps(16 if full else 2),
             doc="sed, sort, uniq, head, gawk, cut, wc: 8 short processes for "
                 "each of 16 slices of 512 KiB of text"))

    W.append(Workload("forkexec", "kernel", [
        Step([BIN + "/forkexec", "1500" if full else "50"]),
    ], user=False, doc="fork + exec + wait of a tiny program"))
    W.append(Workload("pipe", "kernel", [
        Step([BIN + "/pipe", "40000" if full else "500"]),
    ], user=False, doc="two processes bounce a token through pipes"))
    W.append(Workload("mmapchurn", "kernel", [
        Step([BIN + "/mmapchurn", "8000" if full else "100"]),
    ], doc="mmap, touch, mprotect, munmap"))
    W.append(Workload("tmpfs", "kernel", [
        Step([BIN + "/tmpfs", "12000" if full else "100"]),
    ], doc="create, write, rename, read back, delete files on tmpfs"))
    return W


def workloads(scale="full", isa="armhf"):
    return _all(scale, isa)


def by_name(scale="full", isa="armhf"):
    return {w.name: w for w in _all(scale, isa)}


def guest_script(w):
    """The shell script that runs workload w inside the guest and prints
    BENCH-TIME (guest seconds spent in the steps) and BENCH-SUM."""
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        "# generated from tests/bench/workloads.py: %s" % w.name,
        "set -o pipefail",
        "export HOME=/tmp LANG=C LC_ALL=C PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/games",
        "d=/tmp/bench-%s; rm -rf $d; mkdir -p $d; cd $d || exit 1" % w.name,
        "s=$(cut -d' ' -f1 /proc/uptime)",
        "c=$(head -n 1 /proc/stat)",
        "k0=$(awk '/^(intr|ctxt) /{print $2}' /proc/stat; awk '$1==\"pgfault\"{print $2}' /proc/vmstat)",
    ]
    for i, st in enumerate(w.steps, 1):
        cmd = " ".join(q(a) for a in st.argv)
        cmd += " < " + q(st.stdin) if st.stdin else " < /dev/null"
        cmd += " 2> err.%02d" % i
        if not st.stdout:
            cmd += " > /dev/null"
        elif st.keep:
            cmd += " | grep -E %s > out.%02d" % (q(st.keep), i)
        else:
            cmd += " > out.%02d" % i
        lines.append(cmd + " || { rc=$?; echo \"step %d failed: $rc\"; tail -n 5 err.%02d; exit 1; }"
                     % (i, i))
    lines += [
        "e=$(cut -d' ' -f1 /proc/uptime)",
        "echo \"BENCH-TIME $(awk \"BEGIN { printf \\\"%.2f\\\", $e - $s }\")\"",
        # guest CPU split over the steps, in clock ticks: user+nice, system+irq+softirq
        "echo \"$c\" | { read -r _ u n y i w q sq _; head -n 1 /proc/stat | "
        "{ read -r _ u2 n2 y2 i2 w2 q2 sq2 _; "
        "echo \"BENCH-CPU user=$((u2 + n2 - u - n)) sys=$((y2 + q2 + sq2 - y - q - sq))\"; }; }",
        # guest events over the steps: interrupts, context switches, page faults
        "k1=$(awk '/^(intr|ctxt) /{print $2}' /proc/stat; awk '$1==\"pgfault\"{print $2}' /proc/vmstat)",
        "echo $k0 $k1 | { read -r i0 c0 f0 i1 c1 f1; "
        "echo \"BENCH-EVENTS irqs=$((i1 - i0)) ctxsw=$((c1 - c0)) pgfaults=$((f1 - f0))\"; }",
        "echo \"BENCH-SUM $(cat $(ls out.* | sort) | md5sum | cut -d' ' -f1)\"",
        "cd / && rm -rf $d",
    ]
    return "\n".join(lines) + "\n"
