# Installed qemu-espt: 'make install' into a DESTDIR under build/, and the
# Debian package ('make deb'), checked by lintian and unpacked into a
# private root.  Each installed qemu-system-arm boots the test guest with
# ESPT on, and QEMU's own data lookup ('-L help', the load_file trace
# event) shows it found the virt board's NIC ROM and VNC's keymap where an
# installed QEMU does, never in the build tree (whose qemu-bundle/ is what
# makes ./qemu-system-arm find them).  Nothing in the build tree is moved,
# so a killed test leaves it whole.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import shutil
import subprocess

from harness import test, check, Skip
from guest import ROOT, BUILD, BASE_DIR, CPU, GUEST, QEMU, TEST_BASE, boot, parse_espt

WORK = os.path.join(BUILD, "tests", "install")
LOGS = os.path.join(BUILD, "tests", "logs")


def out_of(cmd, **kw):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, **kw)
    return p.returncode, p.stdout.decode(errors="replace")


def make(target, *args):
    """make TARGET (TARGET-B for make check-B's base) in the tree, as a
    user runs it; returns its output."""
    if TEST_BASE and target != "uninstall":
        target += "-" + TEST_BASE
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    rc, out = out_of(["make", "-s", target] + list(args), cwd=ROOT, env=env, timeout=1800)
    check(rc == 0, "make %s failed (rc %d):\n%s" % (target, rc, out[-3000:]))
    return out


def under(path, top):
    path, top = os.path.realpath(path), os.path.realpath(top)
    return path == top or path.startswith(top + os.sep)


def files_under(top):
    """Everything but directories under @top, relative to it."""
    return [os.path.relpath(os.path.join(d, n), top) for d, dirs, files in os.walk(top)
            for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]]


def boot_installed(qemu, prefix, name):
    """Boot the test guest with ESPT on from the installed program `qemu`
    (a name on PATH under `prefix`, as a user runs it)."""
    obj = os.path.join(BASE_DIR, "obj")
    real = os.path.realpath(qemu)
    check(under(real, os.path.join(prefix, "lib", "qemu-espt")) and not os.path.islink(
        os.path.join(prefix, "lib", "qemu-espt", "bin", "qemu-system-arm")),
          "%s is not the installed program but %s" % (qemu, real))
    rc, want = out_of([QEMU, "--version"])
    rc, got = out_of([qemu, "--version"])
    check(rc == 0 and got == want, "installed --version:\n%s\nbuild's:\n%s" % (got, want))
    # Where it looks for data files: the firmware path the build names
    # (/usr/share/qemu, Debian's /usr/lib/ipxe/qemu), then its datadir
    # beside the program.
    rc, dirs = out_of([qemu, "-L", "help"])
    dirs = dirs.split()
    check(rc == 0 and dirs and not [d for d in dirs if under(d, obj) or "qemu-bundle" in d],
          "installed QEMU looks for data in the build tree: %s" % dirs)
    mine = [d for d in dirs if under(d, prefix)]
    check(mine and os.path.isfile(os.path.join(mine[0], "keymaps", "en-us")),
          "no data directory with keymaps under %s: %s" % (prefix, dirs))

    lf = os.path.join(LOGS, name.replace("/", "_") + ".log")
    r = boot("armmp", tests=["memtest"], log_path=lf, qemu=qemu, hmp=["info espt"],
             extra_qemu=["-accel", "tcg,espt=on", "-vnc", "none", "-trace", "load_file"])
    check(r.ok and r.hmp is not None, "boot from %s: %s (log: %s)"
          % (qemu, "; ".join(r.problems) or "no monitor reply", os.path.relpath(lf, ROOT)))
    # Files QEMU looked up by name (not the kernel and initrd, given as paths).
    loads = {n: p for n, p in re.findall(r"load_file name (\S+) location (\S+)", r.log)
             if "/" not in n}
    check("efi-virtio.rom" in loads and "en-us" in loads,
          "the NIC ROM or the keymap was not loaded: %r" % loads)
    bad = {n: p for n, p in loads.items() if under(p, ROOT) and not under(p, prefix)}
    check(not bad, "installed QEMU loaded files from the source tree: %r" % bad)
    on = parse_espt(r.hmp["info espt"])
    check(on["on"] and on.get("maps", 0) > 100
          and on.get("faults-read", 0) + on.get("faults-write", 0) > 100,
          "ESPT did not serve the installed QEMU's guest: %r" % on)
    print("    %s: ESPT maps %d, faults %d/%d; %s" % (
        os.path.relpath(qemu, ROOT), on["maps"], on["faults-read"], on["faults-write"],
        ", ".join("%s from %s" % (n, os.path.dirname(os.path.normpath(p)))
                  for n, p in sorted(loads.items()))), flush=True)


@test("install/make-install")
def _():
    """make install DESTDIR=build/tests/install/destdir: the programs on
    PATH boot the guest with ESPT and find their data without the source
    tree; qemu-arm runs memtest; make uninstall leaves no file behind."""
    dest = os.path.join(WORK, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    make("install", "DESTDIR=" + dest, "PREFIX=/usr/local")
    prefix = os.path.join(dest, "usr", "local")
    for f in ("bin/qemu-espt-system-arm", "bin/qemu-espt-arm",
              "lib/qemu-espt/share/qemu/keymaps/en-us",
              "share/man/man1/qemu-espt-system-arm.1", "share/man/man1/qemu-espt-arm.1"):
        check(os.path.exists(os.path.join(prefix, f)), "make install did not install %s" % f)
    boot_installed(os.path.join(prefix, "bin", "qemu-espt-system-arm"), prefix,
                   "install/make-install")
    rc, out = out_of([os.path.join(prefix, "bin", "qemu-espt-arm"), "-cpu", CPU,
                      os.path.join(GUEST, "progs", "memtest")], timeout=300)
    check(rc == 0 and "memtest: PASS" in out, "installed qemu-espt-arm memtest:\n" + out[-2000:])

    make("uninstall", "DESTDIR=" + dest, "PREFIX=/usr/local")
    left = files_under(dest)
    check(not left and not os.path.exists(os.path.join(prefix, "lib", "qemu-espt")),
          "make uninstall left %s" % left)
    shutil.rmtree(dest, ignore_errors=True)


def deb_depends(deb):
    rc, out = out_of(["dpkg-deb", "-f", deb, "Depends"])
    check(rc == 0 and out.strip(), "no Depends in %s:\n%s" % (deb, out))
    return out.strip(), {re.split(r"[ (]", alt.strip())[0]
                         for dep in out.split(",") for alt in dep.split("|")}


def library_packages(binary):
    """soname -> the host packages holding it, for every library `binary` links."""
    rc, dyn = out_of(["readelf", "-d", binary])
    check(rc == 0, "readelf -d %s:\n%s" % (binary, dyn))
    libs = {}
    for so in re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", dyn):
        rc, owners = out_of(["dpkg-query", "-S", "*/" + so])
        libs[so] = {ln.split(":")[0] for ln in owners.split("\n")
                    if "/x86_64-linux-gnu/%s" % so in ln}
    return libs


@test("install/deb")
def _():
    """make deb: a package named and versioned after the QEMU base, whose
    Depends (dpkg-shlibdeps) cover every library the programs link, plus
    ipxe-qemu; lintian finds no error or warning not explained in its
    overrides; nothing outside qemu-espt's own names, so it installs
    beside Debian's qemu; unpacked into a private root, it boots the
    guest with ESPT."""
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "lintian", "readelf"):
        if not shutil.which(tool):
            raise Skip("%s not installed (scripts/install-deps.sh installs it)" % tool)
    out = make("deb")
    deb = out.strip().split("\n")[-1]
    check(deb.endswith(".deb") and os.path.isfile(deb), "make deb left no package:\n" + out)
    rc, fields = out_of(["dpkg-deb", "-f", deb, "Package", "Version"])
    rc, ver = out_of([QEMU, "--version"])
    qver = re.match(r"QEMU emulator version (\S+) ", ver).group(1)
    check(re.match(r"Package: qemu-espt\nVersion: %s\+espt" % re.escape(qver), fields),
          "package is not qemu-espt version %s+espt...:\n%s" % (qver, fields))

    root = os.path.join(WORK, "debroot")
    shutil.rmtree(root, ignore_errors=True)
    rc, out = out_of(["dpkg-deb", "-x", deb, root])
    check(rc == 0, "dpkg-deb -x:\n" + out)
    prefix = os.path.join(root, "usr")
    mine = ("usr/lib/qemu-espt/", "usr/bin/qemu-espt-", "usr/share/man/man1/qemu-espt-",
            "usr/share/doc/qemu-espt/", "usr/share/lintian/overrides/qemu-espt")
    files = files_under(root)
    check(files and not [f for f in files if not f.startswith(mine)],
          "files outside qemu-espt's names, which could clash with Debian's qemu: %s"
          % [f for f in files if not f.startswith(mine)])

    depends, names = deb_depends(deb)
    check("ipxe-qemu" in names, "Depends lacks ipxe-qemu: " + depends)
    for prog in ("qemu-system-arm", "qemu-arm"):
        for so, pkgs in library_packages(os.path.join(prefix, "lib", "qemu-espt", "bin",
                                                      prog)).items():
            check(pkgs & names, "%s links %s (package %s), which Depends lacks: %s"
                  % (prog, so, "/".join(sorted(pkgs)) or "?", depends))
    print("    %s\n    Depends: %s" % (os.path.relpath(deb, ROOT), depends), flush=True)

    rc, out = out_of(["lintian", "-I", "-E", "--pedantic", "--show-overrides", deb],
                     timeout=600)
    tags = [ln for ln in out.split("\n") if re.match(r"[EWIPXO]: ", ln)]
    for ln in tags or ["(no tags)"]:
        print("    lintian: " + ln, flush=True)
    bad = [ln for ln in tags if ln[0] in "EW"]
    check(rc == 0 and not bad, "lintian (rc %d):\n%s" % (rc, "\n".join(bad) or out[-2000:]))

    boot_installed(os.path.join(prefix, "bin", "qemu-espt-system-arm"), prefix, "install/deb")
    shutil.rmtree(root, ignore_errors=True)
