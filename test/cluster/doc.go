// Package cluster proves kubebake manifests, apply and check against a real
// control plane on 127.0.0.1 (test/testcluster: etcd, kube-apiserver and
// kube-controller-manager with the bootstrapsigner): kubectl applies the
// manifests as printed; apply on an empty cluster makes check pass once the
// bootstrapsigner has signed cluster-info; a second apply changes nothing;
// check names a deleted binding and a token expiring too soon; on a cluster
// prepared the kubeadm way, check accepts kubeadm's own objects.
//
// The tests need the binaries of scripts/setup-k8s.sh; under CI=true their
// absence is a failure, otherwise the tests are skipped.
package cluster
