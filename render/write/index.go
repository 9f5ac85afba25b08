package write

// IndexFile is the name of the fleet's index in the output directory.
const IndexFile = "index.json"

// Index is index.json: what was written for each node, in the order of
// the nodes file. It holds no secret.
type Index struct {
	Nodes []IndexEntry `json:"nodes"`
}

// IndexEntry describes one node's output.
type IndexEntry struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Format   string `json:"format"`
	Hostname string `json:"hostname,omitempty"`
	// TokenID is the public half of the node's bootstrap token.
	TokenID string `json:"tokenId"`
	Size    int64  `json:"size"`
	// SHA256 is the hex SHA-256 of the output file.
	SHA256 string `json:"sha256"`
	// ConfigHash identifies what the node gets without its token: nodes
	// that differ only in their token have the same ConfigHash.
	ConfigHash string `json:"configHash"`
}
