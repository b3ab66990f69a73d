# configure's error paths and the patch-queue workflow.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import glob
import os
import re
import shutil
import subprocess
import tempfile

from harness import test, check, Skip
from guest import ROOT, BUILD, tested_base

PINNED_SHA = "91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f"
BASES = ("7.2", "10.0")


def configure(args, cwd=ROOT, env=None):
    p = subprocess.run([os.path.join(cwd, "configure")] + list(args), cwd=cwd,
                       env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def expect_error(args, pattern, **kw):
    rc, out, err = configure(args, **kw)
    check(rc != 0, "configure %s succeeded, expected an error" % " ".join(args))
    lines = [ln for ln in err.strip().split("\n") if ln.startswith("error:")]
    check(len(lines) == 1, "expected one 'error:' line, stderr was:\n" + err)
    check(re.search(pattern, lines[0]),
          "error line %r does not match %r" % (lines[0], pattern))


def source_package(base=None):
    """The Debian source package configure used for a base (cached in
    build/<base>/upstream)."""
    base = base or tested_base()
    dsc = sorted(glob.glob(os.path.join(BUILD, base, "upstream", "qemu_*.dsc")))
    if dsc:
        return dsc[-1]
    # Configured with --qemu-source: use it if it is a Debian source package.
    try:
        text = open(os.path.join(BUILD, base, "config.mk")).read()
    except OSError:
        text = ""
    m = re.search(r"--qemu-source=(\S+)", text)
    if m:
        src = m.group(1)
        if os.path.isdir(src):
            dsc = sorted(glob.glob(os.path.join(src, "qemu_*.dsc")))
        elif src.endswith(".dsc"):
            dsc = [src]
    if not dsc:
        raise Skip("configured without a Debian source package (--qemu-source is "
                   "a tarball or tree), so there is none to test with")
    return dsc[-1]


@test("configure/unknown-option")
def _():
    expect_error(["--frobnicate"], r"unknown option '--frobnicate'")


@test("configure/help")
def _():
    rc, out, _ = configure(["--help"])
    check(rc == 0 and "--qemu-source=PATH" in out, "--help does not document --qemu-source")


@test("configure/bad-sha256-syntax")
def _():
    expect_error(["--qemu-sha256=xyz"], r"64 hex digits")


@test("configure/source-missing")
def _():
    expect_error(["--qemu-source=/nonexistent/qemu.tar.xz"], r"does not exist")


@test("configure/source-not-qemu")
def _():
    with tempfile.TemporaryDirectory() as d:
        expect_error(["--qemu-source=" + d], r"neither a QEMU source tree")


@test("configure/unknown-base")
def _():
    expect_error(["--base=9.9"], r"unknown base '9\.9' \(choose one of: 7\.2 10\.0\)")
    expect_error(["--base"], r"--base wants a value")


@test("configure/tarball-checksum")
def _():
    with tempfile.TemporaryDirectory() as d:
        tb = os.path.join(d, "qemu-7.2.0.tar.xz")
        with open(tb, "wb") as f:
            f.write(b"not really a tarball\n")
        b72 = ["--base=7.2"]
        expect_error(b72 + ["--qemu-source=" + tb], r"no known checksum for qemu-7\.2\.0\.tar\.xz")
        expect_error(b72 + ["--qemu-source=" + tb, "--qemu-sha256=" + "0" * 64],
                     r"checksum mismatch for qemu-7\.2\.0\.tar\.xz")
        # Named like the pinned tarball: the pinned checksum applies.
        pinned = os.path.join(d, "qemu_7.2+dfsg.orig.tar.xz")
        os.rename(tb, pinned)
        expect_error(b72 + ["--qemu-source=" + pinned],
                     r"checksum mismatch .* expected " + PINNED_SHA)
        # Each base has its own pins: 10.0's tarball under --base=10.0.
        pinned10 = os.path.join(d, "qemu_10.0.13+ds.orig.tar.xz")
        os.rename(pinned, pinned10)
        expect_error(["--base=10.0", "--qemu-source=" + pinned10],
                     r"checksum mismatch .* expected 6a0888e8")


def dsc_orig(dsc):
    """The orig tarball a .dsc lists."""
    m = re.search(r"(?m)^ [0-9a-f]{64} \d+ (qemu_\S+\.orig\.tar\.\w+)$", open(dsc).read())
    check(m, "%s lists no orig tarball" % dsc)
    return m.group(1)


@test("configure/dsc-checksum")
def _():
    base = tested_base()
    dsc = source_package(base)
    orig_name = dsc_orig(dsc)
    with tempfile.TemporaryDirectory() as d:
        for f in glob.glob(os.path.join(os.path.dirname(dsc), "qemu_*")):
            if not f.endswith(".orig.tar.xz"):
                shutil.copy(f, d)
        orig = os.path.join(d, orig_name)
        with open(orig, "wb") as f:
            f.write(b"tampered\n")
        copy = os.path.join(d, os.path.basename(dsc))
        args = ["--base=" + base, "--qemu-source=" + copy]
        # The .dsc still has the real checksum: mismatch against the .dsc.
        expect_error(args, r"checksum mismatch for " + re.escape(orig_name))
        # A .dsc rewritten to match the tampered file: the pin catches it.
        sha = subprocess.run(["sha256sum", orig], stdout=subprocess.PIPE,
                             check=True).stdout.split()[0].decode()
        text = open(copy).read()
        text = re.sub(r"(?m)^ [0-9a-f]{64} (\d+) %s$" % re.escape(orig_name),
                      " %s 9 %s" % (sha, orig_name), text)
        open(copy, "w").write(text)
        expect_error(args, r"checksum mismatch for %s: got %s, expected [0-9a-f]{64}$"
                     % (re.escape(orig_name), sha))
        # The other base's .dsc is refused by name.
        other = [b for b in BASES if b != base][0]
        expect_error(["--base=" + other, "--qemu-source=" + copy],
                     r"is qemu '.*', not %s \(see --base\)" % re.escape(other))


@test("configure/missing-tool")
def _():
    with tempfile.TemporaryDirectory() as d:
        for bindir in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
            for n in os.listdir(bindir) if os.path.isdir(bindir) else []:
                if n == "meson" or os.path.lexists(os.path.join(d, n)):
                    continue
                os.symlink(os.path.join(bindir, n), os.path.join(d, n))
        env = dict(os.environ, PATH=d)
        expect_error([], r"missing meson; install with: apt-get install meson", env=env)


def copy_checkout(dst):
    """Our files (tracked and new, not ignored) into dst."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                           cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
    for f in files.decode().split("\0"):
        if not f or not os.path.exists(os.path.join(ROOT, f)):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))


def git(tree, *args):
    return subprocess.run(["git", "-C", tree] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=True).stdout.decode()


def series(root, base):
    with open(os.path.join(root, "patches", base, "series")) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


@test("configure/patch-queue")
def _():
    """A fresh copy assembles; pq export round-trips patches/ byte for byte;
    a new commit becomes a new patch; going back to the old series drops it;
    a patch that does not apply is named."""
    base = tested_base()
    dsc = source_package(base)
    pdir = os.path.join("patches", base)
    # No background "git gc --auto" after the many commits of git am: it
    # may still write in .git when the copy is removed (seen on 10.0:
    # rmtree failed with "Directory not empty: '.git'").
    os.environ.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="gc.auto",
                      GIT_CONFIG_VALUE_0="0")
    try:
        patch_queue(base, dsc, pdir)
    finally:
        for k in ("GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0"):
            os.environ.pop(k, None)


def patch_queue(base, dsc, pdir):
    with tempfile.TemporaryDirectory() as d:
        copy_checkout(d)
        src = ["--base=" + base, "--qemu-source=" + dsc, "--assemble-only"]
        rc, out, err = configure(src, cwd=d)
        check(rc == 0, "assembling a fresh copy failed:\n" + err)
        tree = os.path.join(d, "build", base, "src")
        subjects = git(tree, "log", "--format=%s", "--reverse", "upstream..espt").split("\n")[:-1]
        check(len(subjects) == len(series(ROOT, base)),
              "%d commits for %d patches" % (len(subjects), len(series(ROOT, base))))
        want = {"7.2": "stable v7.2.1..v7.2.22", "10.0": "QEMU 10.0.13 (Debian qemu"}[base]
        check(want in git(tree, "log", "-1", "--format=%s", "upstream"),
              "base commit does not record %r" % want)
        check(os.readlink(os.path.join(d, "build", "src")) == base + "/src",
              "build/src does not point at the assembled base")
        # Our own files are linked in, and our meson.build is hooked up.
        check(os.path.islink(os.path.join(tree, "qemu-espt", "meson.build")),
              "qemu-espt/meson.build not linked")
        check("subdir('qemu-espt')" in open(os.path.join(tree, "meson.build")).read(),
              "no subdir('qemu-espt') hook in the assembled meson.build")

        # Round trip.
        pq = [os.path.join(d, "scripts", "pq"), "--base=" + base]
        p = subprocess.run(pq + ["export"], cwd=d,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0, "pq export failed: " + p.stdout.decode())
        check(series(d, base) == series(ROOT, base), "pq export changed the series")
        for n in series(ROOT, base):
            a = open(os.path.join(ROOT, pdir, n), "rb").read()
            b = open(os.path.join(d, pdir, n), "rb").read()
            check(a == b, "pq export changed " + n)

        # Edit an upstream file, commit, export: a new patch.
        readme = os.path.join(tree, "README.rst")
        with open(readme, "a") as f:
            f.write("\npatch-queue test line\n")
        git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-a",
            "-m", "test: a patch-queue edit")
        rc, out, err = configure(src, cwd=d)
        check(rc == 0, "configure with an unexported commit failed: " + err)
        p = subprocess.run(pq + ["export"], cwd=d,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0 and len(series(d, base)) == len(series(ROOT, base)) + 1,
              "export did not add a patch: " + p.stdout.decode())
        check(series(d, base)[-1].endswith("test-a-patch-queue-edit.patch"),
              "unexpected new patch name " + series(d, base)[-1])

        # Back to the original series: the edit disappears.
        shutil.copy(os.path.join(ROOT, pdir, "series"), os.path.join(d, pdir, "series"))
        rc, out, err = configure(src, cwd=d)
        check(rc == 0, "re-applying the old series failed: " + err)
        check("patch-queue test line" not in open(readme).read(),
              "dropped patch still applied")

        # Unexported work is protected.
        with open(readme, "a") as f:
            f.write("uncommitted\n")
        git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-a", "-m", "x")
        shutil.copy(os.path.join(ROOT, pdir, series(ROOT, base)[-1]),
                    os.path.join(d, pdir, "0099-dup.patch"))
        with open(os.path.join(d, pdir, "series"), "a") as f:
            f.write("0099-dup.patch\n")
        expect_error(src, r"not in patches/", cwd=d)

        # A patch that does not apply is named.
        with open(os.path.join(d, pdir, "0099-dup.patch"), "w") as f:
            f.write(BROKEN_PATCH)
        expect_error(src + ["--force"],
                     r"patch patches/%s/0099-dup\.patch does not apply" % re.escape(base), cwd=d)


BROKEN_PATCH = """From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: test <t@t>
Date: Thu, 1 Jan 2026 00:00:00 +0000
Subject: [PATCH] broken

---
 VERSION | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/VERSION b/VERSION
--- a/VERSION
+++ b/VERSION
@@ -1 +1 @@
-6.0.0
+6.0.1
--
2.39.5
"""


def machine_archive():
    """The Debian archive and security URIs of this machine's own apt
    sources (as configure reads them: apt-config's sourcelist and
    sourceparts), so that the fixtures below name no archive host."""
    out = subprocess.run(["apt-config", "shell", "L", "Dir::Etc::sourcelist/f",
                          "P", "Dir::Etc::sourceparts/d"],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    cfg = dict(re.findall(r"(\w+)='([^']*)'", out))
    files = [cfg.get("L", "")] + sorted(glob.glob(os.path.join(cfg.get("P", ""), "*.list")) +
                                        glob.glob(os.path.join(cfg.get("P", ""), "*.sources")))
    uris = {}
    for f in files:
        if not os.path.isfile(f):
            continue
        text = open(f, errors="replace").read()
        if f.endswith(".sources"):
            for st in re.split(r"\n\s*\n", text):
                u = re.search(r"(?mi)^URIs:\s*(\S+)", st)
                su = re.search(r"(?mi)^Suites:\s*(.+)$", st)
                if u and su:
                    for suite in su.group(1).split():
                        uris.setdefault(suite, u.group(1))
        else:
            for m in re.finditer(r"(?m)^deb(?:-src)?\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text):
                uris.setdefault(m.group(2), m.group(1))
    main, sec = uris.get("bookworm"), uris.get("bookworm-security")
    if not main or not sec:
        raise Skip("this machine's apt sources have no bookworm and bookworm-security "
                   "entries to build the fixtures from")
    return main.rstrip("/"), sec.rstrip("/")


def apt_fixtures():
    """Sources in both formats: Debian's main and security archives (the
    machine's), and a repository of another vendor (a path on the same
    host that no Debian suite uses)."""
    main, sec = machine_archive()
    other = main + "-other-vendor"
    deb822 = """Types: deb
URIs: %(main)s
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: %(sec)s
Suites: bookworm-security
Components: main

Types: deb
URIs: %(other)s
Suites: nodistro
Components: main
""" % locals()
    one_line = """deb %(main)s bookworm main contrib
deb [arch=amd64 signed-by=/k.gpg] %(sec)s bookworm-security main
deb-src %(main)s bookworm main
deb %(other)s nodistro main
""" % locals()
    return main, sec, other, deb822, one_line


def rewrite(kind, fmt, text, to=""):
    """Run the private-apt rewrite of one sources file, as configure does
    for a base from another Debian release."""
    script = ('. scripts/lib/apt-private.sh; APT_PRIVATE_FROM=%s; APT_PRIVATE_TO=%s; '
              'apt_private_rewrite_%s %s' % ("bookworm" if to else "", to, fmt, kind))
    p = subprocess.run(["bash", "-c", script], cwd=ROOT, input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return p.stdout.decode()


@test("configure/apt-suite-switch")
def _():
    """10.0 comes from Debian 13: the machine's bookworm sources become
    trixie ones in the private copy (updates and security too), suites of
    other repositories and backports are left out, and nothing changes
    without a switch."""
    main, sec, other, sources_deb822, sources_list = apt_fixtures()
    out = rewrite("src", "deb822", sources_deb822, "trixie")
    check("Suites: trixie trixie-updates\n" in out, "main suites not switched:\n" + out)
    check("Suites: trixie-security\n" in out, "security suite not switched:\n" + out)
    check("backports" not in out and "nodistro" not in out and other not in out,
          "suites of other releases kept:\n" + out)
    check(out.count("Types: deb-src") == 2, "expected two deb-src stanzas:\n" + out)
    out = rewrite("bin", "list", sources_list, "trixie")
    check(out.splitlines() == [
        "deb %s trixie main contrib" % main,
        "deb [arch=amd64 signed-by=/k.gpg] %s trixie-security main" % sec],
        "one-line sources not switched as expected:\n" + out)
    out = rewrite("src", "list", sources_list)
    check(out.splitlines()[0] == "deb-src %s bookworm main contrib" % main
          and len(out.splitlines()) == 3, "without a switch the suites must stay:\n" + out)


@test("configure/series-per-base")
def _():
    """Each base has its own series of patches, all with the same From:
    spelling and a Signed-off-by, and each names upstream files only."""
    froms = set()
    for base in BASES:
        names = series(ROOT, base)
        check(names, "patches/%s/series is empty" % base)
        on_disk = sorted(os.path.basename(f)
                         for f in glob.glob(os.path.join(ROOT, "patches", base, "*.patch")))
        check(sorted(names) == on_disk,
              "patches/%s: series and files differ: %s" % (base, set(names) ^ set(on_disk)))
        for n in names:
            text = open(os.path.join(ROOT, "patches", base, n)).read()
            m = re.search(r"(?m)^From: (.*)$", text)
            check(m, "%s/%s has no From:" % (base, n))
            froms.add(m.group(1))
            check(re.search(r"(?m)^Signed-off-by: ", text), "%s/%s is not signed off" % (base, n))
    check(len(froms) == 1, "more than one From: spelling: %s" % sorted(froms))
