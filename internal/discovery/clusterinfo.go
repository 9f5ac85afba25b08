package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ClusterInfoPath is where the API server publishes kube-public/cluster-info.
const ClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info"

// jwsKeyPrefix prefixes the ConfigMap key holding a token's signature.
const jwsKeyPrefix = "jws-kubeconfig-"

// clusterInfo is the part of the cluster-info ConfigMap discovery reads.
type clusterInfo struct {
	Kubeconfig string
	// Signatures maps token ids to their detached JWS.
	Signatures map[string]string
}

// parseClusterInfo decodes the API server's answer for cluster-info.
func parseClusterInfo(body []byte) (*clusterInfo, error) {
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &cm); err != nil {
		return nil, fmt.Errorf("the answer is not a Kubernetes ConfigMap in JSON: %v", err)
	}
	if cm.Kind != "ConfigMap" {
		return nil, fmt.Errorf("the answer is a %q, not a ConfigMap", cm.Kind)
	}
	kc, ok := cm.Data["kubeconfig"]
	if !ok || kc == "" {
		return nil, errors.New("cluster-info has no kubeconfig")
	}
	ci := &clusterInfo{Kubeconfig: kc, Signatures: map[string]string{}}
	for k, v := range cm.Data {
		if id, ok := strings.CutPrefix(k, jwsKeyPrefix); ok {
			ci.Signatures[id] = v
		}
	}
	return ci, nil
}

// signedIDs lists the token ids cluster-info carries signatures for, sorted.
func signedIDs(signatures map[string]string) []string {
	ids := make([]string, 0, len(signatures))
	for id := range signatures {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
