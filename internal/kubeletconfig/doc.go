// Package kubeletconfig is k8s.io/kubelet/config/v1beta1's
// KubeletConfiguration, copied field for field by tools/genkubeletconfig,
// without the packages the original drags into every kubebake process
// (component-base's feature gates, metrics registry and prometheus: see
// the generator). TestSameAsKubelet holds the copy to the original.
package kubeletconfig

//go:generate go run ../../tools/genkubeletconfig -o zz_generated.go
