#!/usr/bin/python3
"""test_cli - parleyd's command line: --help lists the options and every
configuration key, -V, -n says "configuration OK" (defaults and the shipped
parleyd.conf), bad files are reported with their file and line, -D and -f
errors, -n -v prints the effective configuration (which reads back as a
file). Without -d the node daemonizes and returns 0 only once it serves;
a second node on the same data_dir is refused with a clear message."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parleytest import *  # noqa: F401,F403

SHIPPED_CONF = os.path.join(TOP_SRCDIR, "container", "parleyd.conf")


def parleyd(args, cwd, timeout=20):
    """Run parleyd with args; returns (exit status, stdout, stderr)."""
    try:
        p = subprocess.run([PARLEYD] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("parleyd %s did not return within %d s" % (" ".join(args), timeout))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def shipped_keys():
    """Every key parleyd.conf documents, set or commented out."""
    keys = []
    with open(SHIPPED_CONF) as f:
        for line in f:
            m = re.match(r"^#?([a-z_]+) = ", line)
            if m:
                keys.append(m.group(1))
    check(len(keys) >= 20, "parleyd.conf documents %d keys" % len(keys))
    return keys


def help_and_version(wd):
    rc, out, err = parleyd(["--help"], wd)
    equal(rc, 0, "parleyd --help exit status")
    check(out.startswith("usage: parleyd"), "--help starts with usage: %r" % out[:80])
    for opt in ("-d", "-n", "-v", "-f FILE", "-D key=value", "-V"):
        check(opt in out, "--help names option %s" % opt)
    for key in shipped_keys():
        check(re.search(r"^  %s +\S.*\(default: " % key, out, re.M),
              "--help lists key %s with its default" % key)
    check("SIGHUP" in out, "--help says what SIGHUP does")
    rc2, out2, _ = parleyd(["-h"], wd)
    equal((rc2, out2), (0, out), "-h is --help")

    for flag in ("-V", "--version"):
        rc, out, err = parleyd([flag], wd)
        equal(rc, 0, "parleyd %s exit status" % flag)
        check(re.match(r"^parleyd \d+\.\d+(\.\d+)?\S*\n$", out), "%s prints the version: %r" % (flag, out))

    rc, out, err = parleyd(["-x"], wd)
    equal(rc, 2, "exit status for an unknown option")
    check("usage:" in err and out == "", "an unknown option gets the usage on stderr: %r" % err[:200])
    rc, out, err = parleyd(["-n", "stray"], wd)
    equal(rc, 2, "exit status for a stray argument")
    check("unexpected argument 'stray'" in err, "a stray argument is named: %r" % err[:200])


def check_ok(wd):
    # Built-in defaults: the samples built beside this parleyd (cart, travel, flight and hotel).
    rc, out, err = parleyd(["-n"], wd)
    equal(rc, 0, "parleyd -n exit status (stderr %r)" % err)
    check(re.match(r"^configuration OK \(4 services in \S*samples/deploy\)\n$", out),
          "parleyd -n with the defaults: %r" % out)
    check(not os.path.exists(os.path.join(wd, "var")), "-n creates no data_dir")
    # The shipped file.
    rc, out, err = parleyd(["-n", "-f", SHIPPED_CONF], wd)
    equal(rc, 0, "parleyd -n -f parleyd.conf exit status (stderr %r)" % err)
    check(out.startswith("configuration OK"), "parleyd -n -f parleyd.conf: %r" % out)
    # The test deployment: two services.
    rc, out, err = parleyd(["-n", "-f", SHIPPED_CONF, "-D", "deploy_dir=" + TEST_DEPLOY], wd)
    equal(out, "configuration OK (2 services in %s)\n" % TEST_DEPLOY, "-n with tests/deploy")


# (file text, line of the mistake, what the message must say)
BAD_FILES = [
    ("node_id = n1\nbogus_key = 3\n", 2, "unknown key 'bogus_key'"),
    ("# workers\n\nworkers = 0\n", 3, "workers '0' is out of range (1 to 256)"),
    ("workers = many\n", 1, "workers 'many' must be a whole number"),
    ("listen = nowhere\n", 1, "listen 'nowhere' must be HOST:PORT"),
    ("store = tape\n", 1, "store 'tape' must be memory, disk or replicated"),
    ("sync = maybe\n", 1, "sync 'maybe' must be full, write or none"),
    ("\n\n\n\nrecv_timeout = 10 parsecs\n", 5, "recv_timeout '10 parsecs' must be a duration"),
    ("max_message_bytes = 12q\n", 1, "max_message_bytes '12q' must be a size"),
    ("node_id = Bad_Name\n", 1, "node_id 'Bad_Name' must be 1 to"),
    ("pid_file = \"/tmp/x.pid\n", 1, "unterminated quote in the value of 'pid_file'"),
    ("workers\n", 1, "'workers' has no value"),
    ("log_level = loud # too loud\n", 1, "log_level 'loud' must be warn, info or debug"),
    ("manager = ftp://x\n", 1, "manager 'ftp://x' must be 'embedded' or an http:// URL"),
    ("node_id = n1\n# " + "x" * 5000 + "\n", 2, "line too long"),
]


def bad_files(wd):
    for i, (text, line, want) in enumerate(BAD_FILES):
        path = os.path.join(wd, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = parleyd(["-n", "-f", path], wd)
        equal(rc, 1, "exit status for bad file %d (%r)" % (i, text[:40]))
        check("configuration OK" not in out, "bad file %d is not OK" % i)
        check(("%s:%d: " % (path, line)) in err, "bad file %d: the message names %s:%d: %r"
              % (i, os.path.basename(path), line, err))
        check(want in err, "bad file %d: the message says %r: %r" % (i, want, err))
    # Keys that are each fine but do not fit together.
    path = os.path.join(wd, "clash.conf")
    with open(path, "w") as f:
        f.write("cache_size = 1m\nmax_bean_bytes = 2m\n")
    rc, out, err = parleyd(["-n", "-f", path], wd)
    equal(rc, 1, "exit status for max_bean_bytes > cache_size")
    check("max_bean_bytes" in err and "cache_size" in err, "the clash is explained: %r" % err)
    # A directory is not a file.
    rc, out, err = parleyd(["-n", "-f", wd], wd)
    equal(rc, 1, "exit status for -f DIRECTORY")
    check(wd in err and "Is a directory" in err, "-f DIRECTORY: %r" % err)
    # A missing file.
    missing = os.path.join(wd, "no-such.conf")
    rc, out, err = parleyd(["-n", "-f", missing], wd)
    equal(rc, 1, "exit status for a missing -f file")
    equal(err, "parleyd: %s: No such file or directory\n" % missing, "message for a missing -f file")
    rc, out, err = parleyd(["-d", "-f", missing, "-D", "data_dir=" + os.path.join(wd, "d")], wd)
    equal(rc, 1, "a node with a missing -f file does not start")
    check(not os.path.exists(os.path.join(wd, "d")), "nor does it create its data_dir")
    # A bad service descriptor in deploy_dir: -n checks the services too.
    dep = os.path.join(wd, "deploy-bad")
    os.mkdir(dep)
    for ext in ("so", "wsdl"):
        os.symlink(os.path.join(TEST_DEPLOY, "cart." + ext), os.path.join(dep, "cart." + ext))
    with open(os.path.join(TEST_DEPLOY, "cart.service")) as f:
        desc = f.read()
    desc = desc.replace("operation Checkout  finish", "operation Checkout  sideways")
    check("sideways" in desc, "the descriptor has the Checkout line to break")
    with open(os.path.join(dep, "cart.service"), "w") as f:
        f.write(desc)
    bad_line = desc[:desc.index("sideways")].count("\n") + 1
    rc, out, err = parleyd(["-n", "-D", "deploy_dir=" + dep], wd)
    equal(rc, 1, "exit status for a bad descriptor")
    check("cart.service:%d:" % bad_line in err and "sideways" in err,
          "a bad descriptor is reported with its line %d: %r" % (bad_line, err))


def override_errors(wd):
    cases = [
        (["-D", "workers=0"], "-D workers=0: workers '0' is out of range (1 to 256)"),
        (["-D", "nokey=1"], "-D nokey=1: unknown key 'nokey'"),
        (["-D", "workers"], "-D workers: write -D key=value"),
        (["-D", "keepalive_timeout=soon"], "-D keepalive_timeout=soon: keepalive_timeout 'soon' must be a duration"),
        (["-D", "listen=127.0.0.1:99999"], "-D listen=127.0.0.1:99999: listen '127.0.0.1:99999' must be HOST:PORT"),
    ]
    for args, want in cases:
        for mode in ("-n", "-d"):
            rc, out, err = parleyd([mode] + args + ["-D", "data_dir=" + os.path.join(wd, "o")], wd)
            equal(rc, 1, "exit status for %s %s" % (mode, " ".join(args)))
            check(want in err, "%s %s: the message says %r: %r" % (mode, " ".join(args), want, err))
    # -D overrides the file, whatever the order on the command line.
    path = os.path.join(wd, "w.conf")
    with open(path, "w") as f:
        f.write("workers = 0\n")
    rc, out, err = parleyd(["-n", "-D", "workers=2", "-f", path], wd)
    equal(rc, 1, "a bad file is bad even when -D sets the same key")
    check("%s:1:" % path in err, "the bad file is named: %r" % err)
    with open(path, "w") as f:
        f.write("workers = 5\n")
    rc, out, err = parleyd(["-n", "-v", "-D", "workers=2", "-f", path], wd)
    check(re.search(r"^workers\s+= 2$", out, re.M), "-D wins over the file: %r" % out)


def effective_conf(wd):
    rc, out, err = parleyd(["-n", "-v", "-f", SHIPPED_CONF, "-D", "workers=3",
                            "-D", "recv_timeout=1500ms", "-D", "pid_file=" + os.path.join(wd, "a b.pid")], wd)
    equal(rc, 0, "parleyd -n -v exit status (stderr %r)" % err)
    lines = out.splitlines()
    check(lines and lines[-1].startswith("configuration OK"), "-n -v ends with configuration OK")
    for key in shipped_keys():
        check(re.search(r"^%s\s+= \S" % key, out, re.M), "-n -v prints %s: %r" % (key, out))
    check(re.search(r"^workers\s+= 3$", out, re.M), "-n -v prints the -D value of workers")
    check(re.search(r"^recv_timeout\s+= 1500ms$", out, re.M), "-n -v prints durations in ms")
    check(re.search(r'^pid_file\s+= ".*a b\.pid"$', out, re.M), "-n -v quotes a value with a space")
    check(re.search(r"^deploy_dir\s+= /\S+$", out, re.M), "-n -v prints the computed deploy_dir")
    # What it prints is a configuration file that says the same.
    path = os.path.join(wd, "effective.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines[:-1]) + "\n")
    rc, out2, err2 = parleyd(["-n", "-v", "-f", path], wd)
    equal(rc, 0, "the printed configuration reads back (stderr %r)" % err2)
    equal(out2, out, "the printed configuration reads back the same")


def listening_port(pid):
    """The TCP port process pid listens on, from /proc (no fixed ports in tests)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:
                return int(parts[1].split(":")[1], 16)
    return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def daemon(wd, nodes):
    data = os.path.join(wd, "daemon-data")
    pid_file = os.path.join(wd, "daemon.pid")
    args = ["-D", "listen=127.0.0.1:0", "-D", "data_dir=" + data, "-D", "deploy_dir=" + TEST_DEPLOY,
            "-D", "pid_file=" + pid_file]
    t0 = time.time()
    rc, out, err = parleyd(args, wd)
    equal(rc, 0, "parleyd without -d returns 0 once serving (stderr %r)" % err)
    check(os.path.exists(pid_file), "the daemon wrote its pid_file")
    with open(pid_file) as f:
        pid = int(f.read().strip())
    try:
        check(alive(pid), "the daemon (pid %d) runs after parleyd returned" % pid)
        check(pid != os.getpid() and os.getsid(pid) == pid, "the daemon leads its own session")
        port = listening_port(pid)
        check(port, "the daemon listens on a TCP port")
        # Serving already, at the moment parleyd returned: no retry here.
        n = Node(wd, name="probe")
        n.port = port
        check(n.answers(), "the daemon answers as soon as parleyd returned")
        st = n.status()
        equal(len(st["services"]), 2, "the daemon serves tests/deploy")
        a = Cart(Client(n)).start()
        equal(a.status, 200, "the daemon serves SOAP")

        # A second node on the same data_dir, in the foreground and as a daemon.
        other = args[:2] + ["-D", "data_dir=" + data, "-D", "deploy_dir=" + TEST_DEPLOY]
        rc, out, err = parleyd(["-d"] + other, wd)
        equal(rc, 1, "a second node on the same data_dir exits 1")
        want = "another parleyd (pid %d) is using data_dir %s" % (pid, data)
        check(want in err, "the second node says %r: %r" % (want, err))
        rc, out, err = parleyd(other, wd)
        equal(rc, 1, "a second daemon on the same data_dir returns 1")
        check("parleyd: did not start: data_dir %s is locked by another parleyd" % data in err,
              "the second daemon says why it did not start: %r" % err)
        check(alive(pid), "the first daemon still runs")
        check(n.answers(), "the first daemon still answers")

        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 20
        while alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        check(not alive(pid), "the daemon stopped on SIGTERM")
        # The pid_file is removed only on a clean stop (exit status 0).
        check(not os.path.exists(pid_file), "the daemon removed its pid_file: it stopped cleanly")
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    # After the stop, the data_dir is free again: a node starts on it.
    n = Node(wd, name="after", data_dir=data)
    nodes.append(n)
    n.start()
    equal(n.stop(), 0, "a node on the freed data_dir stops with 0")


def daemon_fails(wd):
    """A daemon that cannot start says why and returns 1 (here: its port is taken)."""
    n = Node(wd, name="holder", store="memory")
    n.start()
    try:
        rc, out, err = parleyd(["-D", "listen=127.0.0.1:%d" % n.port, "-D", "store=memory",
                                "-D", "deploy_dir=" + TEST_DEPLOY], wd)
        equal(rc, 1, "a daemon whose port is taken returns 1")
        check("did not start" in err and "Address already in use" in err,
              "the daemon says why it did not start: %r" % err)
    finally:
        equal(n.stop(), 0, "the holder's exit status")


def test(wd, nodes):
    help_and_version(wd)
    check_ok(wd)
    bad_files(wd)
    override_errors(wd)
    effective_conf(wd)
    daemon(wd, nodes)
    daemon_fails(wd)


run(test)
