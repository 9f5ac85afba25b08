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
	// Part is the part of the node's configuration the output is (--part).
	Part string `json:"part"`
	// TokenID is the public half of the bootstrap token the output holds;
	// none for an output that holds no token (--part image).
	TokenID string `json:"tokenId,omitempty"`
	// Merged says the output holds the user's --merge config: with
	// --part, only the part --merge-part names does.
	Merged bool  `json:"merged,omitempty"`
	Size   int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the output file.
	SHA256 string `json:"sha256"`
	// ConfigHash identifies what the node gets without its token: nodes
	// that differ only in their token have the same ConfigHash.
	ConfigHash string `json:"configHash"`
}
