// Package herd holds the herd test and benchmark: many kubebake-join
// processes against one real kube-apiserver on loopback (test/herdtest).
package herd
