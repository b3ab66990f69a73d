# libvirt: a plain domain XML, as a new user writes it, runs with ESPT on.
#
# libvirt 9.0 gives QEMU an explicit private RAM backend
# (-object memory-backend-ram,...), which ESPT used to refuse silently:
# 'info espt' said "guest RAM is not in a shared file descriptor" and the
# user got softmmu speed.  The test runs a real libvirtd of its own
# (tests/libvirt/private.py, in a private mount namespace, all state under
# build/tests/libvirt), boots our test guest from plain XML and asks QEMU
# through virsh whether ESPT served it.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import shutil
import subprocess

from harness import test, check, Skip
from guest import (ROOT, BUILD, GUEST, QEMU, QEMU_A64, CPU_A64, guest_dir,
                   have_a64, kernel_path)

WORK = os.path.join(BUILD, "tests", "libvirt")
# <emulator>: the build's qemu-system-arm, or an installed one, e.g.
# QEMU_ESPT_LIBVIRT_EMULATOR=/usr/local/bin/qemu-espt-system-arm
# (QEMU_ESPT_LIBVIRT_EMULATOR_A64 for the aarch64 domain).
EMULATOR = os.environ.get("QEMU_ESPT_LIBVIRT_EMULATOR") or os.path.realpath(QEMU)
EMULATOR_A64 = (os.environ.get("QEMU_ESPT_LIBVIRT_EMULATOR_A64")
                or os.path.realpath(QEMU_A64))

DOMAIN = """<domain type='qemu'>
  <name>espt-test</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='armv7l' machine='virt'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyAMA0 panic=-1 norandmaps quiet loglevel=3 espt.tests=memtest,workload espt.hold</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>{qemu}</emulator>
    <serial type='file'>
      <source path='{console}'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""


# The same guest work as an aarch64 domain (qemu-system-aarch64, the arm64
# guest), with the CPU model the tests use elsewhere, written as
# virt-install writes aarch64 domains: UEFI firmware (qemu-efi-aarch64)
# and ACPI.  Debian 12's libvirt (9.0) gives an aarch64 domain without
# ACPI the option -no-acpi, which QEMU 10.0 (upstream's too) no longer
# has, and refuses ACPI without UEFI.  Secure boot off: the firmware
# with enrolled keys refuses the kernel.
DOMAIN_A64 = (DOMAIN.replace("<os>\n    <type arch='armv7l' machine='virt'>",
                             "<os firmware='efi'>\n"
                             "    <firmware><feature enabled='no' name='secure-boot'/></firmware>\n"
                             "    <type arch='aarch64' machine='virt'>")
              .replace("  <on_poweroff>",
                       "  <features><acpi/></features>\n"
                       "  <cpu mode='custom' match='exact'><model fallback='forbid'>%s</model>"
                       "</cpu>\n  <on_poweroff>" % CPU_A64))


def run_domain(xml_text, tag, flavour="armmp"):
    for tool in ("libvirtd", "virsh", "unshare"):
        if not shutil.which(tool):
            raise Skip("%s not installed (scripts/install-deps.sh installs libvirt)" % tool)
    if os.geteuid() != 0:
        raise Skip("a private system libvirtd needs root (mount namespace, bind mounts)")
    work = os.path.join(WORK, tag)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    console = os.path.join(work, "console.log")
    xml = os.path.join(work, "domain.xml")
    with open(xml, "w") as f:
        f.write(xml_text.format(kernel=kernel_path(flavour),
                                initrd=os.path.join(guest_dir(flavour), "initramfs.cpio.gz"),
                                qemu=EMULATOR_A64 if flavour == "arm64" else EMULATOR,
                                console=console))
    p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "python3", os.path.join(ROOT, "tests", "libvirt", "private.py"),
                        work, xml, console],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=900,
                       env=dict(os.environ, ESPT_CALLER_MNTNS=os.readlink("/proc/self/ns/mnt")))
    text = p.stdout.decode(errors="replace")
    try:
        out = json.loads(text.strip().split("\n")[-1])
    except ValueError:
        raise AssertionError("private libvirtd run printed no report (rc %d):\n%s"
                             % (p.returncode, text[-3000:]))
    try:
        with open(console, errors="replace") as f:
            out["console"] = f.read()
    except OSError:
        out["console"] = ""
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(out, f, indent=1)
    return out, work


def plain_domain(flavour, xml, tag):
    """virsh start of a plain domain: QEMU gets libvirt's private
    memory-backend-ram, ESPT backs it with a memfd and serves the guest,
    whose results equal a direct espt=off run."""
    from test_espt import OFF, log, results, results_of
    from guest import boot
    out, work = run_domain(xml, tag, flavour)
    rel = os.path.relpath(work, ROOT)
    check("error" not in out, "libvirt run failed: %s\nsteps: %s\nlibvirtd log: %s"
          % (out.get("error"), out.get("steps"), out.get("libvirtd_log_tail", "")[-1500:]))
    qlog = out.get("qemu_log", "")
    # The command line is libvirt's own: a private RAM backend.
    check("memory-backend-ram" in qlog and "memory-backend=mach-virt.ram" in qlog,
          "libvirt did not give QEMU its usual private RAM backend (%s/report.json):\n%s"
          % (rel, qlog[-2000:]))
    q = out.get("query_espt", {}).get("return", {})
    check(q.get("enabled") is True,
          "ESPT is off under libvirt: %s" % (q.get("reason") or out.get("query_espt")))
    check(q.get("maps", 0) > 1000 and q.get("faults-read", 0) + q.get("faults-write", 0) > 1000,
          "ESPT barely used under libvirt: %r" % q)
    check("ESPT-HOLD" in out["console"], "guest did not finish (%s/console.log):\n%s"
          % (rel, out["console"][-1500:]))
    ref = boot(flavour, tests=["memtest", "workload"], mem=512, extra_qemu=OFF,
               log_path=log("libvirt/%s-reference" % tag))
    check(ref.ok, "reference run: %s" % "; ".join(ref.problems))
    want, got = results(ref), results_of(out["console"])[0]
    check(want and got == want, "libvirt guest computed other results:\n  want %s\n  got  %s"
          % (want, got))
    print("    ESPT on under libvirt: maps %d, faults %d/%d; %d result lines equal to espt=off"
          % (q["maps"], q["faults-read"], q["faults-write"], len(got)), flush=True)


@test("libvirt/plain-domain")
def _():
    """A plain armv7l domain (qemu-system-arm)."""
    plain_domain("armmp", DOMAIN, "plain")


@test("libvirt/plain-domain-aarch64")
def _():
    """A plain aarch64 domain (qemu-system-aarch64, cortex-a57, the arm64
    guest): ESPT on through libvirt as for arm."""
    if not have_a64():
        raise Skip("this base builds no qemu-system-aarch64 (AArch32 only)")
    plain_domain("arm64", DOMAIN_A64, "plain-aarch64")


@test("libvirt/private-memory-keeps-espt-off")
def _():
    """<access mode='private'/> is an explicit share=off: the user asked
    for private anonymous memory, so ESPT stays off and says why."""
    xml = DOMAIN.replace("<on_poweroff>",
                         "<memoryBacking><access mode='private'/></memoryBacking>\n"
                         "  <on_poweroff>").replace("espt.hold", "espt.hold espt.tests=")
    out, work = run_domain(xml, "private")
    check("error" not in out, "libvirt run failed: %s" % out.get("error"))
    check('"share":false' in out.get("qemu_log", "").replace(" ", ""),
          "libvirt did not pass share=false:\n%s" % out.get("qemu_log", "")[-1500:])
    q = out.get("query_espt", {}).get("return", {})
    check(q.get("enabled") is False and
          q.get("reason") == "guest RAM backend asks for private memory (share=off)",
          "query-espt: %r" % q)
