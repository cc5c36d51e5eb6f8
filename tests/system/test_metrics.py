"""/metrics against its documentation.

gslbd runs with every part that exports metrics: DNS listeners, the HTTP
redirect listener, the admin listener, a GeoIP database, and services whose
pools are probed by a tcp check (a local socket that listens) and an http
check (a closed port). After a little traffic every family has samples, and:

- the families /metrics declares (# TYPE lines) are exactly the names in the
  table of docs/operations.md ("Reading metrics"), and each table row names
  the labels its families carry (le of histograms aside);
- every family is declared once, with # HELP before # TYPE, and every sample
  belongs to the family declared last (histograms: _bucket, _sum, _count);
- counters end in _total, and the sample lines parse (name{labels} value).
"""

import json
import os
import re
import signal
import socket
import time

import dns.message

from test_http import PL, files, get, start  # noqa: F401 (files: a fixture)

import gslbtest

DOC = os.path.join(gslbtest.SRCDIR, "docs", "operations.md")

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def doc_table():
    """[(names, labels)] from the metrics table of docs/operations.md."""
    with open(DOC) as f:
        text = f.read()
    start_at = text.index("| metric | labels | what |")
    rows = []
    for line in text[start_at:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`(gslb_[a-z0-9_]+)`", cells[0])
        labels = set(re.findall(r"`([a-z_]+)`", cells[1]))
        assert names, "a metrics table row without a name: %r" % line
        rows.append((names, labels))
    return rows


def parse_exposition(body):
    """{family: {"type", "help", "labels": set, "samples": int}}; asserts the
    text is well formed on the way."""
    fams, current = {}, None
    for line in body.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert name not in fams, "family declared twice: %s" % name
            assert help_, "no help text: %s" % line
            fams[name] = {"help": help_, "type": None, "labels": set(), "samples": 0}
            current = name
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert name == current, "TYPE without its HELP: %s" % line
            assert type_ in ("counter", "gauge", "histogram"), line
            fams[name]["type"] = type_
        elif line:
            m = SAMPLE_RE.match(line)
            assert m, "not a sample line: %r" % line
            name, labels, value = m.groups()
            float(value)
            fam = fams.get(current)
            assert fam and fam["type"], "sample before any family: %s" % line
            base = name
            if fam["type"] == "histogram":
                base = next((name[:-len(s)] for s in HIST_SUFFIXES if name.endswith(s)), name)
            assert base == current, "sample %s inside family %s" % (name, current)
            got = dict(LABEL_RE.findall(labels or ""))
            fam["labels"] |= set(got) - {"le"}
            fam["samples"] += 1
    return fams


def test_metrics_match_the_documentation(gslbd_factory, files, tmp_path):  # noqa: F811
    # a tcp check that succeeds (a socket that listens, never accepts:
    # the kernel completes the handshake) and an http check that fails
    # and an http check that reads a load figure (pools[].load)
    loaded = gslbtest.HttpBackend(body=b"0.5\n")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(64)
        up, down = listening.getsockname()[1], gslbtest.closed_port()
        services = """checks = (
  { name = "conn"; type = "tcp"; port = %d; interval = 1.0; timeout = 0.5; },
  { name = "web"; type = "http"; port = %d; interval = 1.0; timeout = 0.5; },
  { name = "ld"; type = "http"; port = %d; interval = 1.0; timeout = 0.5; }
);
services = (
  { name = "www.geo.test"; ttl = 30; redirect = { target = "http://{region}.example.com"; };
    pools = ( { region = "eu-east"; check = "conn"; members = [ "127.0.0.1" ]; },
              { region = "us-east"; check = "web"; members = [ "127.0.0.2" ]; } ); },
  { name = "split.geo.test"; ttl = 30;
    route = ( { match = "net:0.0.0.0/0"; split = ( { region = "eu-east"; weight = 1; } ); } );
    pools = ( { region = "eu-east"; members = [ "127.0.0.1" ]; } ); },
  { name = "load.geo.test"; ttl = 30;
    pools = ( { region = "eu-east"; check = "ld"; members = [ "127.0.0.1" ];
                load = { from = "body-number"; }; } ); }
);
dnstap = { socket = "%s"; };
""" % (up, down, loaded.port, tmp_path / "no-collector.sock")
        srv = start(gslbd_factory, files, tmp_path, tls=False, admin="127.0.0.1:0",
                    services=services)
        srv.udp4(dns.message.make_query("www.geo.test", "A"))
        srv.udp4(dns.message.make_query("split.geo.test", "A"))
        assert get(srv, "/p", PL).status == 302
        srv.proc.send_signal(signal.SIGHUP)  # a reload: gslb_reloads_total
        deadline = time.monotonic() + 10
        while True:
            m = srv.metrics()
            if (m.get('gslb_probes_total{check="web",result="failure"}', 0) >= 1
                    and m.get('gslb_probes_total{check="conn",result="success"}', 0) >= 1
                    and m.get('gslb_reloads_total{result="success"}', 0) >= 1
                    and 'gslb_pool_load{service="load.geo.test",region="eu-east"}' in m):
                break
            assert time.monotonic() < deadline, "no probe results or reload:\n%s" % m
            time.sleep(0.2)
        status, _, body = gslbtest.admin_request(srv, "GET", "/metrics")
        assert status == 200, body
    loaded.close()

    fams = parse_exposition(body)
    for name, fam in fams.items():
        assert fam["type"], "no TYPE: %s" % name
        assert fam["samples"], "family without samples: %s" % name
        if fam["type"] == "counter":
            assert name.endswith("_total"), "counter not ending in _total: %s" % name

    rows = doc_table()
    documented = [n for names, _ in rows for n in names]
    assert len(documented) == len(set(documented)), "a name documented twice"
    assert set(fams) - set(documented) == set(), "exported, not documented"
    # exported only by a node of a cluster: test_cluster_nodes.py reads them
    cluster_only = {"gslb_cluster_nodes", "gslb_cluster_degraded", "gslb_cluster_members",
                    "gslb_cluster_etcd_errors_total", "gslb_cluster_ignored_values_total"}
    assert set(documented) - set(fams) - cluster_only == set(), "documented, not exported"
    for names, labels in rows:
        if set(names) <= cluster_only:
            continue
        have = set().union(*(fams[n]["labels"] for n in names))
        assert have == labels, "%s: the table says labels %s, /metrics has %s" % (
            ", ".join(names), sorted(labels), sorted(have))
    check_grafana_dashboard(fams)


def grafana_queries(dash):
    """Every PromQL text of a Grafana dashboard: panel targets (rows
    included) and template variable queries."""
    out = []
    for p in dash["panels"]:
        for q in p.get("panels", []) + [p]:
            out += [t["expr"] for t in q.get("targets", [])]
    for v in dash["templating"]["list"]:
        out.append(v["definition"])
    return out


def check_grafana_dashboard(fams):
    """contrib/grafana/gslb.json (issue 17) is importable as is (a
    Prometheus data source input, every panel with queries on it) and names
    only metrics this gslbd exports, with labels they have."""
    with open(os.path.join(gslbtest.SRCDIR, "contrib", "grafana", "gslb.json")) as f:
        dash = json.load(f)
    assert [i["pluginId"] for i in dash["__inputs"]] == ["prometheus"], dash["__inputs"]
    assert dash["title"] and dash["uid"] and dash["schemaVersion"] >= 30
    queries = grafana_queries(dash)
    assert len(queries) >= 10, queries
    used = set()
    for q in queries:
        for name, labels in re.findall(r"\b(gslb_[a-z0-9_]+)(\{[^}]*\})?", q):
            base = name
            if base not in fams:
                base = next((name[:-len(s)] for s in HIST_SUFFIXES if name.endswith(s)), name)
            assert base in fams, "the dashboard queries %s, not in /metrics: %s" % (name, q)
            for lab in re.findall(r"([a-z_]+)\s*=~?", labels):
                assert lab == "instance" or lab in fams[base]["labels"], (lab, name, q)
            used.add(base)
        for by in re.findall(r"by \(([^)]*)\)", q):
            for lab in (x.strip() for x in by.split(",")):
                assert lab in ("le", "instance") or any(
                    lab in fams[n]["labels"] for n in used), (lab, q)
    for want in ("gslb_dns_queries_total", "gslb_service_answers_total", "gslb_pool_up",
                 "gslb_member_up", "gslb_probe_duration_seconds", "gslb_rrl_responses_total",
                 "gslb_reloads_total", "gslb_http_redirects_total"):
        assert want in used, "the dashboard has no panel on %s" % want
