package write

import (
	"fmt"
	"strings"
	"time"
)

// Plural is "1 node", "2 nodes".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ShortList is "a, b, c": at most n names, then "and 3 more".
func ShortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// Summary says what a fleet's write made: the outputs, their size, the
// index, where and how long it took.
func (idx *Index) Summary(dir string, took time.Duration) string {
	var total int64
	for _, e := range idx.Nodes {
		total += e.Size
	}
	size := fmt.Sprintf("%.1f MB", float64(total)/1e6)
	if total < 1e6 {
		size = fmt.Sprintf("%.1f kB", float64(total)/1e3)
	}
	return fmt.Sprintf("wrote %s (%s) and %s to %s in %s", Plural(len(idx.Nodes), "output"), size, IndexFile, dir, took.Round(time.Millisecond))
}
