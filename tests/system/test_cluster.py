"""Cluster of gslbd nodes on etcd (issue 13): the real etcd the tests run
(gslbtest.EtcdCluster) and gslbd's etcd v3 client (gslb/cluster.c)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402


def test_etcd_one_member(etcd_factory):
    etcd = etcd_factory(1)
    etcd.put("/gslb/t/a", "one")
    assert etcd.get("/gslb/t/a") == "one"
    assert etcd.get("/gslb/t/absent") is None


def test_etcd_three_members_survive_one_loss(etcd_factory):
    etcd = etcd_factory(3)
    assert len(etcd.endpoints()) == 3
    etcd.put("/gslb/t/k", "v1", 0)
    assert all(etcd.get("/gslb/t/k", i) == "v1" for i in range(3))
    etcd.kill(0)
    etcd.put("/gslb/t/k", "v2", 1)
    assert etcd.get("/gslb/t/k", 2) == "v2"
    etcd.restart(0)
    assert etcd.get("/gslb/t/k", 0) == "v2"
