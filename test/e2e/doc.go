// Package e2e proves, against a real control plane on 127.0.0.1, that a node
// rendered by kubebake joins: kubebake renders Ignition (and cloud-init) for
// the cluster's CA, a bootstrap token and the loopback endpoint; the real
// applier lays it down in a root; the kubebake-join it installed verifies the
// cluster and installs the bootstrap kubeconfig; the real kubelet, run with
// the rendered unit's flags and config in a sandbox, TLS-bootstraps and its
// Node goes Ready. Negative cases show that a node pinned to another CA, or
// holding an unknown or deleted token, never sends the token anywhere.
//
// BenchmarkDiscovery compares kubebake-join's discovery with kubeadm join's
// on the same cluster (scripts/bench-e2e.sh prints it as a table).
//
// The tests need the binaries of scripts/setup-k8s.sh, the agents of `make
// embed`, the Ignition applier of scripts/setup-consumers.sh, and root; `make
// test` provides all of it. Under CI=true anything missing is a failure.
package e2e
