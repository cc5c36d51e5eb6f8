#!/usr/bin/python3
"""Start, reload and memory of gslbd on large zones and configurations,
side by side with NSD, Knot and gdnsd; print the figures.

    bench/scale.py zones      # ZONE_SIZES records: gslbd, NSD, Knot
    bench/scale.py services   # SIZES services: gslbd (and -t), gdnsd
    bench/scale.sh            # both, with the tools checked first

zones: for each size N (default 1000 100000 1000000) a zone of N records is
written by bench/scale-zone.py. Each server (SERVERS, default "gslbd knot
nsd") is started on a free loopback port with its own temporary folder and
the zone alone; start is the time from exec to the first answer carrying
the zone's SOA serial. Then RELOADS times (default 3) the file is replaced
by the same zone with the next serial and the server told to reload (gslbd:
SIGHUP; Knot: knotc zone-reload; NSD: nsd-control reload): reload is the time from
that signal or command to the first answer with the new serial. Memory is
the PSS summed over the server's processes (NSD forks; PSS counts pages
shared between them once), after start and after the last reload.

services: for each size N (default 10 1000 10000) a configuration of N
services (5 regions of 2 members each, a route rule and a default order;
the demo GeoIP database, or GEOIP_DB) is written; gslbd -t's time and peak
RSS, gslbd's start (to its "ready" line) and RSS, each reload's time (SIGHUP
to the "reloaded" line) and the RSS after it are printed. gdnsd (when
installed, or GDNSD) serves the same N names as DYNA records of its geoip
plugin (one map shared by N resources with the same datacenters, members
and a PL -> eu-east rule; city-auto-mode) and its start (exec to the first
answer) and PSS are printed beside.

Both print the ratios between consecutive sizes (x10 input -> x time) and
memory per record or per service (the growth of memory between two sizes
divided by the growth of the input). Servers run on SERVER_CPU (0), this
script on CLIENT_CPU (1).

    SIZES="1000" RELOADS=20 bench/scale.py services     # the memory curve only
    ZONE_SIZES="1000 100000" SERVERS=gslbd bench/scale.py zones
"""

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
GSLBD = os.environ.get("GSLBD") or os.path.join(SRC, "build", "gslbd")
if not os.path.exists(GSLBD):
    GSLBD = os.path.join(SRC, "gslbd")
GEOIP_DB = os.environ.get("GEOIP_DB") or os.path.join(SRC, "geoip", "demo-city.mmdb")
RELOADS = int(os.environ.get("RELOADS") or 3)
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1")
TIMEOUT = 900
REGIONS = [("us-east", 39.04, -77.49), ("us-west", 37.4, -122.1), ("eu-east", 52.23, 21.01),
           ("eu-west", 53.3, -6.3), ("ap-southeast", 1.35, 103.82)]
ORIGIN = "scale.test"


def tool(env, name):
    path = os.environ.get(env)
    if path:
        return path
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def free_port():
    """A port free right now for UDP and TCP on 127.0.0.1."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    sys.exit("no free port found")


def pinned(argv):
    taskset = shutil.which("taskset")
    return [taskset, "-c", SERVER_CPU] + argv if taskset and SERVER_CPU else argv


# ---------------------------------------------------------------- memory

def _children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append(int(d))
    return kids


def tree(pid):
    kids, todo, out = _children(), [pid], []
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    return _status_kb(pid, "VmRSS")


def pss_kb(pid):
    """PSS of a process and its descendants, kB (taskset execs in place)."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- DNS

def soa_query(name=ORIGIN):
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return q + struct.pack(">HH", 6, 1)


def soa_serial(m):
    """The serial in an answer to soa_query(), or None."""
    if len(m) < 12 or m[3] & 15 != 0 or struct.unpack(">H", m[6:8])[0] == 0:
        return None
    try:
        p = _skip_name(m, 12) + 4  # the question
        p = _skip_name(m, p)  # the first answer's owner
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[p:p + 10])
    except (IndexError, struct.error):
        return None
    if rtype != 6 or rdlen < 22:
        return None
    end = p + 10 + rdlen  # serial, refresh, retry, expire, minimum end the RDATA
    return struct.unpack(">I", m[end - 20:end - 16])[0]


def _skip_name(m, p):
    while True:
        n = m[p]
        if n == 0:
            return p + 1
        if n & 0xC0 == 0xC0:
            return p + 2
        p += 1 + n


def wait_serial(port, serial, proc, t0, what):
    """Seconds from t0 to the first answer carrying serial: a query every
    2 ms from one socket (a server that is still loading may read them
    late), any answer that comes back counts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        while True:
            try:
                s.send(soa_query())
            except OSError:
                pass  # not bound yet: ICMP port unreachable
            end = time.monotonic() + 0.002
            while True:
                left = end - time.monotonic()
                if left <= 0 or not select.select([s], [], [], left)[0]:
                    break
                try:
                    m = s.recv(4096)
                except OSError:
                    continue
                if soa_serial(m) == serial:
                    return time.monotonic() - t0
            if proc.poll() is not None:
                sys.exit("%s exited (status %s)" % (what, proc.returncode))
            if time.monotonic() - t0 > TIMEOUT:
                sys.exit("%s: no answer with serial %d after %d s" % (what, serial, TIMEOUT))


# ---------------------------------------------------------------- servers

class Server:
    """A DNS server started on a free loopback port in its own folder."""

    name = "server"

    def __init__(self, workdir, zone):
        self.d = os.path.join(workdir, self.name)
        os.makedirs(self.d, exist_ok=True)
        self.zone = zone
        self.port = free_port()
        self.log = open(os.path.join(self.d, "stderr.log"), "w")
        self.proc = None

    def spawn(self, argv):
        t0 = time.monotonic()
        self.proc = subprocess.Popen(pinned(argv), stdout=subprocess.DEVNULL, stderr=self.log,
                                     cwd=self.d)
        return t0

    def start(self, serial):
        t0 = self.spawn(self.argv())
        return wait_serial(self.port, serial, self.proc, t0, self.name)

    def reload(self, serial):
        t0 = time.monotonic()
        self.trigger()
        return wait_serial(self.port, serial, self.proc, t0, self.name + " reload")

    def trigger(self):
        self.proc.send_signal(signal.SIGHUP)

    def memory_kb(self):
        return pss_kb(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def version(self):
        return ""


def gslbd_version():
    r = subprocess.run([GSLBD, "--version"], capture_output=True, text=True)
    text = r.stdout or r.stderr
    return text.splitlines()[0] if text else "?"


class Gslbd(Server):
    name = "gslbd"

    def argv(self):
        conf = os.path.join(self.d, "gslb.conf")
        with open(conf, "w") as f:
            f.write('listen = { dns = [ "127.0.0.1:%d" ]; };\nworkers = 1;\n'
                    'zones = ( { origin = "%s"; file = "%s"; } );\n'
                    % (self.port, ORIGIN, self.zone))
        return [GSLBD, "-c", conf]

    def version(self):
        return gslbd_version()


class Knot(Server):
    name = "knot"

    def argv(self):
        self.conf = os.path.join(self.d, "knot.conf")
        os.makedirs(os.path.join(self.d, "db"), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("""server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{d}/knot.sock"
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: "{origin}"
    file: "{zone}"
""".format(d=self.d, port=self.port, origin=ORIGIN, zone=self.zone))
        return [tool("KNOTD", "knotd"), "-c", self.conf]

    def trigger(self):
        subprocess.run([tool("KNOTC", "knotc"), "-c", self.conf, "zone-reload", ORIGIN],
                       stdout=subprocess.DEVNULL, check=True)

    def version(self):
        r = subprocess.run([tool("KNOTD", "knotd"), "--version"], capture_output=True, text=True)
        return r.stdout.strip()


class Nsd(Server):
    name = "nsd"

    def argv(self):
        conf = os.path.join(self.d, "nsd.conf")
        with open(conf, "w") as f:
            f.write("""server:
\tip-address: 127.0.0.1@{port}
\tserver-count: 1
\tusername: ""
\tchroot: ""
\tzonesdir: "{d}"
\tdatabase: ""
\tzonelistfile: "{d}/zone.list"
\txfrdfile: "{d}/xfrd.state"
\txfrdir: "{d}"
\tpidfile: "{d}/nsd.pid"
\tcookie-secret-file: "{d}/cookiesecrets.txt"
\tlogfile: "{d}/nsd.log"
\tverbosity: 0
\tzonefiles-check: yes
\trrl-ratelimit: 0
\trrl-whitelist-ratelimit: 0
remote-control:
\tcontrol-enable: yes
\tcontrol-interface: "{d}/nsd.sock"
zone:
\tname: "{origin}"
\tzonefile: "{zone}"
""".format(d=self.d, port=self.port, origin=ORIGIN, zone=self.zone))
        self.conf = conf
        return [tool("NSD", "nsd"), "-d", "-c", conf]

    def trigger(self):
        subprocess.run([tool("NSD_CONTROL", "nsd-control"), "-c", self.conf, "reload", ORIGIN],
                       stdout=subprocess.DEVNULL, check=True)

    def version(self):
        r = subprocess.run([tool("NSD", "nsd"), "-v"], capture_output=True, text=True)
        return (r.stderr or r.stdout).splitlines()[0]


SERVER_CLASSES = {c.name: c for c in (Gslbd, Knot, Nsd)}


def write_zone(path, n, serial):
    tmp = path + ".tmp"
    subprocess.run([sys.executable, os.path.join(HERE, "scale-zone.py"), ORIGIN, str(n), tmp,
                    str(serial)], check=True)
    os.replace(tmp, path)


def ratio_lines(sizes, results, fields, unit):
    """x(input) -> x(time) between consecutive sizes, and memory per unit."""
    out = []
    for a, b in zip(sizes, sizes[1:]):
        for name in results:
            ra, rb = results[name].get(a), results[name].get(b)
            if not ra or not rb:
                continue
            parts = []
            for f in fields:
                if ra.get(f) and rb.get(f):
                    parts.append("%s x%.1f" % (f, rb[f] / ra[f]))
            if ra.get("mem") and rb.get("mem"):
                per = (rb["mem"] - ra["mem"]) * 1024 / (b - a)
                parts.append("memory %+.0f B per %s" % (per, unit))
            out.append("%-6s %d -> %d %ss (x%g): %s" % (name, a, b, unit, b / a, ", ".join(parts)))
    return out


def zones_main():
    sizes = [int(x) for x in (os.environ.get("ZONE_SIZES") or "1000 100000 1000000").split()]
    names = (os.environ.get("SERVERS") or "gslbd knot nsd").split()
    print("== zones: %s records; servers %s; %d reloads; servers on CPU %s"
          % (", ".join(str(s) for s in sizes), ", ".join(names), RELOADS, SERVER_CPU))
    results = {n: {} for n in names}
    with tempfile.TemporaryDirectory(prefix="gslb-scale-") as d:
        for name in names:
            print("%s: %s" % (name, SERVER_CLASSES[name](d, "").version() or "?"))
        print("%-6s %9s %9s %9s %9s %11s %11s %7s"
              % ("server", "records", "start s", "reload s", "(max)", "PSS MB", "reloaded MB",
                 "B/rec"), flush=True)
        for n in sizes:
            for name in names:
                wd = os.path.join(d, "%s-%d" % (name, n))
                os.makedirs(wd)
                zone = os.path.join(wd, "scale.test.zone")
                serial = 1
                write_zone(zone, n, serial)
                srv = SERVER_CLASSES[name](wd, zone)
                try:
                    start = srv.start(serial)
                    time.sleep(0.5)
                    mem0 = srv.memory_kb()
                    reloads = []
                    for _ in range(RELOADS):
                        serial += 1
                        write_zone(zone, n, serial)
                        reloads.append(srv.reload(serial))
                        time.sleep(0.5)
                    mem1 = srv.memory_kb()
                finally:
                    srv.stop()
                rel = sorted(reloads)[len(reloads) // 2] if reloads else 0.0
                results[name][n] = {"start": start, "reload": rel, "mem": mem0}
                print("%-6s %9d %9.2f %9.2f %9.2f %11.1f %11.1f %7.0f"
                      % (name, n, start, rel, max(reloads) if reloads else 0.0, mem0 / 1024,
                         mem1 / 1024, mem0 * 1024 / n), flush=True)
                shutil.rmtree(wd, ignore_errors=True)
    print("-- ratios (time and memory per record between sizes)")
    for line in ratio_lines(sizes, results, ("start", "reload"), "record"):
        print(line)
    big = sizes[-1]
    if "gslbd" in results and big in results["gslbd"]:
        g = results["gslbd"][big]
        for other in names:
            if other != "gslbd" and big in results[other]:
                o = results[other][big]
                print("gslbd/%s at %d records: start %.2f, reload %.2f, memory %.2f"
                      % (other, big, g["start"] / o["start"],
                         g["reload"] / o["reload"] if o["reload"] else 0, g["mem"] / o["mem"]))


# ---------------------------------------------------------------- services

def service_zone(workdir):
    path = os.path.join(workdir, "scale.test.zone")
    with open(path, "w") as f:
        f.write("$ORIGIN scale.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 192.0.2.53\n")
    return path


def members(i, k):
    return ("10.%d.%d.%d" % (k, (i >> 8) & 255, i & 255),
            "10.%d.%d.%d" % (k + 100, (i >> 8) & 255, i & 255))


def config(workdir, n, port=0, check=False):
    lines = ['listen = { dns = [ "127.0.0.1:%d" ]; };' % port,
             'workers = 1;',
             'state_dir = "%s";' % os.path.join(workdir, "state"),
             'zones = ( { origin = "scale.test"; file = "%s"; } );' % service_zone(workdir),
             'geoip = { database = "%s"; };' % GEOIP_DB,
             "regions = ("]
    lines.append(",\n".join('  { name = "%s"; lat = %s; lon = %s; }' % r for r in REGIONS))
    lines.append(");")
    if check:
        lines.append('checks = ( { name = "web"; type = "tcp"; port = 9; interval = 60; } );')
    lines.append("services = (")
    svcs = []
    for i in range(n):
        pools = []
        for k, (name, _, _) in enumerate(REGIONS):
            pools.append('{ region = "%s"; members = [ "%s", "%s" ];%s }'
                         % ((name,) + members(i, k) + (' check = "web";' if check else "",)))
        svcs.append('  { name = "s%d.scale.test"; ttl = 30; default = [ "us-east", "eu-east" ];\n'
                    '    route = ( { match = "country:PL"; regions = [ "eu-east" ]; } );\n'
                    '    pools = ( %s ); }' % (i, ",\n      ".join(pools)))
    lines.append(",\n".join(svcs))
    lines.append(");")
    path = os.path.join(workdir, "gslb-%d.conf" % n)
    os.makedirs(os.path.join(workdir, "state"), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def gdnsd_config(workdir, n, port):
    """gdnsd's folder for the same n names: DYNA records of one geoip map."""
    gd = os.path.join(workdir, "gdnsd-%d" % n)
    for sub in ("zones", "run", "state"):
        os.makedirs(os.path.join(gd, sub), exist_ok=True)
    with open(os.path.join(gd, "zones", ORIGIN), "w") as f:
        f.write("$ORIGIN scale.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 192.0.2.53\n")
        for i in range(n):
            f.write("s%d 30 DYNA geoip!s%d\n" % (i, i))
    with open(os.path.join(gd, "config"), "w") as f:
        f.write("options => {\n  listen => { 127.0.0.1:%d => { udp_threads => 1, "
                "tcp_threads => 1 } }\n  run_dir => %s\n  state_dir => %s\n}\n"
                % (port, os.path.join(gd, "run"), os.path.join(gd, "state")))
        f.write("plugins => { geoip => {\n  maps => { scale => {\n    geoip2_db => \"%s\"\n"
                "    datacenters => [ %s ]\n    auto_dc_coords => {\n"
                % (GEOIP_DB, " ".join(r[0] for r in REGIONS)))
        for name, lat, lon in REGIONS:
            f.write("      %s => [ %s, %s ]\n" % (name, lat, lon))
        f.write("    }\n    map => { EU => { PL => [ eu-east ] } }\n  } }\n  resources => {\n")
        for i in range(n):
            f.write("    s%d => { map => scale, dcmap => { %s } }\n" % (i, ", ".join(
                "%s => [ %s ]" % ((r[0],) + (", ".join(members(i, k)),))
                for k, r in enumerate(REGIONS))))
        f.write("  }\n} }\n")
    return gd


def check_run(path):
    """gslbd -t: wall time and peak RSS (kB) of that one process."""
    t0 = time.monotonic()
    p = subprocess.Popen(pinned([GSLBD, "-t", "-c", path]), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    if p.returncode != 0:
        sys.exit("gslbd -t failed:\n" + err[-2000:])
    return dt, ru.ru_maxrss


class Daemon:
    def __init__(self, path, log):
        self.log = log
        self.f = open(log, "w")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(pinned([GSLBD, "-c", path]), stderr=self.f,
                                  stdout=subprocess.DEVNULL)
        self.ready = self.wait_for(" ready", 0, TIMEOUT)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def count(self, needle):
        return self.text().count(needle)

    def wait_for(self, needle, have, timeout):
        deadline = time.monotonic() + timeout
        while self.count(needle) <= have:
            if self.p.poll() is not None:
                sys.exit("gslbd exited:\n" + self.text()[-2000:])
            if time.monotonic() > deadline:
                sys.exit("timeout waiting for %r" % needle)
            time.sleep(0.005)
        return time.monotonic()

    def reload(self):
        have = self.count("reloaded what=config") + self.count("reload failed")
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while self.count("reloaded what=config") + self.count("reload failed") <= have:
            if time.monotonic() > deadline or self.p.poll() is not None:
                sys.exit("reload did not finish:\n" + self.text()[-2000:])
            time.sleep(0.005)
        if "reload failed" in self.text().splitlines()[-1]:
            sys.exit("reload failed:\n" + self.text()[-2000:])
        return time.monotonic() - t0

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(60)
        self.f.close()


def gdnsd_run(workdir, n):
    """gdnsd's start time (exec to the first SOA answer) and PSS, or None."""
    exe = tool("GDNSD", "gdnsd")
    if not exe:
        return None
    port = free_port()
    gd = gdnsd_config(workdir, n, port)
    with open(os.path.join(gd, "stderr.log"), "w") as log:
        t0 = time.monotonic()
        p = subprocess.Popen(pinned([exe, "-c", gd, "start"]), stdout=subprocess.DEVNULL,
                             stderr=log)
        try:
            start = wait_serial(port, 1, p, t0, "gdnsd")
            time.sleep(0.5)
            mem = pss_kb(p.pid)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(60)
    shutil.rmtree(gd, ignore_errors=True)
    return start, mem


def services_main():
    sizes = [int(x) for x in (os.environ.get("SIZES") or "10 1000 10000").split()]
    results = {"gslbd": {}, "gdnsd": {}}
    use_gdnsd = os.environ.get("GDNSD_RUN", "1") != "0" and tool("GDNSD", "gdnsd")
    print("== services: %s; %d reloads; %s; servers on CPU %s"
          % (", ".join(str(s) for s in sizes), RELOADS, os.path.basename(GEOIP_DB), SERVER_CPU))
    with tempfile.TemporaryDirectory(prefix="gslb-scale-") as d:
        for n in sizes:
            path = config(d, n)
            print("-- %d services" % n, flush=True)
            ct, cpeak = check_run(path)
            print("gslbd -t: %.2f s, peak RSS %.1f MB" % (ct, cpeak / 1024), flush=True)
            srv = Daemon(path, os.path.join(d, "gslbd-%d.log" % n))
            start = srv.ready - srv.t0
            rss = [rss_kb(srv.p.pid)]
            print("gslbd start: %.2f s, RSS %.1f MB" % (start, rss[0] / 1024), flush=True)
            times = []
            for k in range(RELOADS):
                time.sleep(1.2)
                times.append(srv.reload())
                time.sleep(0.3)
                rss.append(rss_kb(srv.p.pid))
                print("gslbd reload %2d: %.2f s, RSS %.1f MB" % (k + 1, times[-1], rss[-1] / 1024),
                      flush=True)
            srv.stop()
            growth = rss[-1] / rss[1] if len(rss) > 1 else 1.0
            if RELOADS:
                print("RSS after reload %d / after reload 1: %.2fx" % (RELOADS, growth),
                      flush=True)
            results["gslbd"][n] = {"-t": ct, "start": start,
                                   "reload": sorted(times)[len(times) // 2] if times else 0.0,
                                   "mem": rss[0]}
            if use_gdnsd:
                g = gdnsd_run(d, n)
                if g:
                    results["gdnsd"][n] = {"start": g[0], "mem": g[1]}
                    print("gdnsd start: %.2f s, PSS %.1f MB" % (g[0], g[1] / 1024), flush=True)
    print("-- ratios (time and memory per service between sizes)")
    for line in ratio_lines(sizes, results, ("-t", "start", "reload"), "service"):
        print(line)


def main():
    # stopped by a signal: the servers started are stopped too (finally:)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("scale.py: terminated"))
    what = sys.argv[1] if len(sys.argv) > 1 else "services"
    if not os.access(GSLBD, os.X_OK):
        sys.exit("scale.py: gslbd not found: build it, or set GSLBD=/path/to/gslbd")
    print("gslbd: %s (%s)" % (GSLBD, gslbd_version()))
    if CLIENT_CPU and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(CLIENT_CPU)})
        except (OSError, ValueError):
            pass
    if what == "zones":
        zones_main()
    elif what == "services":
        services_main()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
