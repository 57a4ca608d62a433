#!/usr/bin/env bash
# System packages PhotonCloud's tests and local clusters use (Debian 12). Safe to re-run.
#   etcd-server etcd-client                     the production store (tests start their own etcd on loopback)
#   ovn-central ovn-host openvswitch-switch     OVN (NB/SB databases, northd, ovn-controller, ovs-vswitchd):
#                                               the network controllers program it; tests start their own
#   iproute2 iputils-ping                       network namespaces and ping for the real-packet tests
#   qemu-system-x86 qemu-utils                  the hypervisor and disk tools the compute agent drives
#   busybox-static linux-image-cloud-amd64      what hack/guest-image builds the tiny test guest from
#   pdns-server pdns-backend-sqlite3 sqlite3    PowerDNS Authoritative for public Zones (npm start and the tests run
#                                               their own pdns_server; sqlite3 creates its database)
#   bind9-dnsutils                              dig, which the DNS tests (and users) query with
#   haproxy                                     the layer-7 proxy of LoadBalancers with HTTP listeners (run by the
#                                               node agent in a network namespace per LoadBalancer)
#   ceph-mon ceph-mgr ceph-osd ceph-common      a one-node Ceph for Volumes (npm start and the tests run their own, on
#                                               a file-backed OSD; rbd and ceph are the tools the RBD driver runs)
#   qemu-block-extra                            QEMU's rbd block driver (librbd), how VMs open Ceph Volumes
#   radosgw                                     Ceph's S3 gateway for Buckets (run by the local Ceph beside its OSD)
#   kubectl, kpt                                must already be on the machine (not packaged by Debian); the tests drive them
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends etcd-server etcd-client ovn-central ovn-host openvswitch-switch iproute2 iputils-ping ca-certificates openssl qemu-system-x86 qemu-utils busybox-static linux-image-cloud-amd64 pdns-server pdns-backend-sqlite3 sqlite3 bind9-dnsutils haproxy ceph-mon ceph-mgr ceph-osd ceph-common qemu-block-extra radosgw
# Debian starts etcd as a service on :2379 when systemd runs; the tests use their own ports and data.
# (The same for the packaged OVN/OVS and PowerDNS services: tests run their own instances on private sockets and ports.)
if command -v systemctl >/dev/null 2>&1; then
  for service in etcd ovn-central ovn-host openvswitch-switch pdns haproxy ceph.target ceph-radosgw.target; do
    if systemctl is-active --quiet "$service" 2>/dev/null; then $SUDO systemctl disable --now "$service" || true; fi
  done
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl is not installed: the e2e tests drive the real kubectl (1.29-1.33)." >&2
  exit 1
fi
if ! command -v kpt >/dev/null 2>&1; then
  echo "kpt is not installed: the pruning tests drive the real kpt (kpt live init/apply/status)." >&2
  exit 1
fi
