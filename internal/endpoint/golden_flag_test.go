package endpoint

// Every test package accepts -update, so that `go test ./... -update`
// rewrites the golden files wherever they are.
import _ "github.com/kubebake/kubebake/test/golden"
