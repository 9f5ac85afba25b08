package emit

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestManyLargeValues: a document with more than ten placeholders splices
// each value where its own stands. Before, placeholder "-1" was found
// again in "-10" and the render failed "does not stand exactly once" (a
// node with eleven files: the agent, a stock kubelet and the kubelet's
// flags file).
func TestManyLargeValues(t *testing.T) {
	l := &largeValues{}
	var doc, want strings.Builder
	for i := range 25 {
		v := []byte(fmt.Sprintf("value %d", i))
		var ph string
		if i%2 == 0 {
			ph = l.addLiteral(v)
			want.Write(v)
		} else {
			ph = l.add(v, true)
			want.WriteString(string(largeValue{data: v, dataURL: true}.encode()))
		}
		doc.WriteString(ph + ",")
		want.WriteString(",")
	}
	got, err := l.apply([]byte(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("got %s\nwant %s", got, want.String())
	}
	var streamed bytes.Buffer
	if err := l.writeTo(&streamed, []byte(doc.String()), nil); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != want.String() {
		t.Fatalf("streamed %s\nwant %s", streamed.String(), want.String())
	}
}
