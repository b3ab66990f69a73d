#!/usr/bin/env python3
# Run a libvirtd of our own, with its configuration, sockets, state, cache
# and logs in WORKDIR, define and boot one domain from plain XML, and
# report what happened as JSON on stdout.  Run it inside a private mount
# namespace (tests/test_libvirt.py starts it with `unshare -m`): it
# bind-mounts WORKDIR's directories over /etc/libvirt, /run, /var/lib,
# /var/cache and /var/log there, so the machine's own libvirt (if any)
# and its configuration are never touched.
#
#   private.py WORKDIR DOMAIN.XML CONSOLE.LOG
#
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import subprocess
import sys
import time

work, xml, console = sys.argv[1:4]
out = {"steps": []}
MOUNTS = {"etc": "/etc/libvirt", "run": "/run", "lib": "/var/lib",
          "cache": "/var/cache", "log": "/var/log"}


def step(msg):
    out["steps"].append("%.1f %s" % (time.monotonic() - T0, msg))


def sh(*cmd, check=True, timeout=120):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    if check and p.returncode:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(cmd), p.returncode,
                                              p.stdout.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def virsh(*args, **kw):
    return sh("virsh", "-q", "-c", "qemu:///system", *args, **kw)


T0 = time.monotonic()
# The caller names its own mount namespace: ours must be another one.
if os.readlink("/proc/self/ns/mnt") == os.environ.get("ESPT_CALLER_MNTNS",
                                                      os.readlink("/proc/self/ns/mnt")):
    sys.exit("private.py: not in a private mount namespace; refusing to mount")
for d, target in MOUNTS.items():
    src = os.path.join(work, d)
    os.makedirs(os.path.join(src, "libvirt", "qemu") if d != "etc" else src,
                exist_ok=True)
    sh("mount", "--bind", src, target)
# Debian's libvirt resolves its built-in QEMU user and group (which
# libvirt-daemon-system would create) before it reads qemu.conf: give it
# them, in this namespace only, through private copies of passwd/group.
for db, extra in (("passwd", ["libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin"]),
                  ("group", ["kvm:x:64054:", "libvirt-qemu:x:64055:"])):
    with open("/etc/" + db) as f:
        have = f.read()
    copy = os.path.join(work, db)
    with open(copy, "w") as f:
        f.write(have + "".join(x + "\n" for x in extra
                               if x.split(":")[0] + ":" not in have))
    sh("mount", "--bind", copy, "/etc/" + db)
with open("/etc/libvirt/libvirtd.conf", "w") as f:
    f.write('log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n')
with open("/etc/libvirt/qemu.conf", "w") as f:
    # Root in a container: no privilege drop, no cgroups, no namespaces,
    # no SELinux/AppArmor labels, no virtlogd.
    f.write('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n'
            'cgroup_controllers = [ ]\nnamespaces = [ ]\n'
            'dynamic_ownership = 0\nremember_owner = 0\n'
            'stdio_handler = "file"\n')
daemon = subprocess.Popen(["libvirtd", "-f", "/etc/libvirt/libvirtd.conf"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
try:
    sock = "/run/libvirt/libvirt-sock"
    while not os.path.exists(sock):
        if daemon.poll() is not None or time.monotonic() - T0 > 60:
            raise RuntimeError("libvirtd did not start (rc %s)" % daemon.poll())
        time.sleep(0.2)
    step("libvirtd up")
    virsh("define", xml)
    name = sh("sed", "-n", "s:.*<name>\\(.*\\)</name>.*:\\1:p", xml).strip()
    virsh("start", name, timeout=180)
    step("domain started")
    qlog = "/var/log/libvirt/qemu/%s.log" % name
    with open(qlog) as f:
        out["qemu_log"] = f.read()
    t = time.monotonic()
    seen = ""
    while time.monotonic() - t < 600:
        try:
            with open(console, errors="replace") as f:
                seen = f.read()
        except OSError:
            pass
        if "ESPT-HOLD" in seen or "ESPT-DONE" in seen and "ESPT-HOLD" not in seen \
                and virsh("domstate", name, check=False).strip() != "running":
            break
        time.sleep(0.5)
    step("guest done" if "ESPT-HOLD" in seen else "guest did not finish")
    out["query_espt"] = json.loads(virsh("qemu-monitor-command", name,
                                         '{"execute":"query-espt"}'))
    out["hmp_info_espt"] = virsh("qemu-monitor-command", name, "--hmp", "info espt")
    virsh("destroy", name, check=False)
    virsh("undefine", name, check=False)
    step("domain gone")
except Exception as e:   # reported to the test, which fails with it
    out["error"] = str(e)
finally:
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
    try:
        with open("/var/log/libvirt/libvirtd.log", errors="replace") as f:
            out["libvirtd_log_tail"] = f.read()[-3000:]
    except OSError:
        pass
print(json.dumps(out))
