#!/usr/bin/python3
"""test_tutorial - docs/TUTORIAL.md runs as written. Its ```sh blocks are run
in order, in one bash -e in an empty directory, against this build tree
(PARLEY_SRC, PARLEY_BUILD, a free PARLEY_PORT); each ```output block after a
command holds lines that must appear, in that order, in what the command
blocks before it printed since the last output block ('...' stands for any
text). The tutorial stops the node it started; a process left behind in the
directory fails the test, and is killed."""

import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

TUTORIAL = os.path.join(TOP_SRCDIR, "docs", "TUTORIAL.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
MARK = "@@parley-tutorial-block %d@@"


def blocks(text):
    """[(kind, text)] of the sh and output blocks, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) in ("sh", "output")]


def script(parts):
    """One bash script: every sh block, each followed by a line marking its end."""
    out = []
    for i, (kind, text) in enumerate(parts):
        if kind == "sh":
            out.append(text)
            out.append("echo '%s'\n" % (MARK % i))
    return "".join(out)


def pattern(line):
    return re.compile("^" + ".*".join(re.escape(p) for p in line.split("...")) + "$")


def check_outputs(parts, stdout):
    """Each output block's lines appear, in order, in what the sh blocks
    before it (after the previous output block) printed."""
    segments = {}
    rest = stdout
    for i, (kind, _) in enumerate(parts):
        if kind == "sh":
            head, sep, rest = rest.partition(MARK % i + "\n")
            check(sep, "the script stopped before the end of block %d" % i)
            segments[i] = head
    printed = []
    for i, (kind, text) in enumerate(parts):
        if kind == "sh":
            printed.append(segments[i])
            continue
        check(printed, "output block %d follows no command" % i)
        lines = "".join(printed).splitlines()
        printed = []
        at = 0
        for want in text.splitlines():
            p = pattern(want)
            while at < len(lines) and not p.match(lines[at]):
                at += 1
            check(at < len(lines), "the tutorial's output line %r (block %d) is not in what was "
                  "printed:\n%s" % (want, i, "\n".join(lines)))
            at += 1


def node_processes(wd):
    """parleyd processes started in wd or naming it."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if (cwd == wd or cwd.startswith(wd + "/") or wd.encode() in cmd):
            found.append(int(pid))
    return found


def test(wd, nodes):
    with open(TUTORIAL) as f:
        parts = blocks(f.read())
    check(sum(1 for k, _ in parts if k == "sh") >= 10, "the tutorial has its sh blocks")
    run_dir = os.path.join(wd, "tutorial")
    os.mkdir(run_dir)
    env = dict(os.environ)
    # None of make check's make variables reach the generated Makefile.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CFLAGS", "CPPFLAGS",
              "LDFLAGS"):
        env.pop(k, None)
    env.update(PARLEY_SRC=os.path.abspath(TOP_SRCDIR), PARLEY_BUILD=os.path.abspath(TOP_BUILDDIR),
               PARLEY_PORT=str(free_ports(1)))
    env.pop("PARLEY_URL", None)
    # Its python3 is this one, which must have zeep (Debian's python3-zeep).
    try:
        import zeep  # noqa: F401
    except ImportError:
        raise SkipTest("the tutorial's Python client needs zeep (python3-zeep)")
    bindir = os.path.join(wd, "bin")
    os.mkdir(bindir)
    os.symlink(sys.executable, os.path.join(bindir, "python3"))
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    path = os.path.join(wd, "tutorial.sh")
    with open(path, "w") as f:
        f.write(script(parts))
    try:
        p = subprocess.run(["bash", "-e", path], cwd=run_dir, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=200)
        check(p.returncode == 0, "the tutorial's commands exited %d:\n%s"
              % (p.returncode, p.stdout[-6000:]))
        check_outputs(parts, p.stdout)
    finally:
        left = node_processes(wd)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    check(not left, "the tutorial left %d process(es) running: %s" % (len(left), left))


run(test, limit=240)
