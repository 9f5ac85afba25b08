package render

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/kubebake/kubebake/embed"
	"github.com/kubebake/kubebake/internal/atomicfile"
	"github.com/kubebake/kubebake/internal/options"
	"github.com/kubebake/kubebake/internal/token"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A fleet is many nodes rendered in one call, one output file per node in
// one directory, plus index.json. Every output is byte for byte what a
// single render of that node's inputs writes; the work that does not depend
// on the node is done once (Shared), the nodes render in parallel, each
// output is streamed to its file, and the directory appears whole or not
// at all.

// FleetNode is one node: its name (which names its output file) and its
// inputs, merged from the command line, the nodes file's defaults and the
// node's own keys, with Defaults filled in.
type FleetNode struct {
	Name   string
	Inputs Inputs
	// Where is "file:line" of the node in its nodes file, for errors.
	Where string
}

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

// NodeError is a problem with one node of a fleet.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("node %q: %v", e.Node, e.Err) }
func (e *NodeError) Unwrap() error { return e.Err }

// Extension is the usual file name extension of a format's output.
func Extension(f Format) string {
	switch f {
	case FormatButane:
		return ".bu"
	case FormatCloudInit:
		return ".yaml"
	case FormatPlan:
		return ".json"
	case FormatTar:
		return ".tar"
	default:
		return ".ign"
	}
}

// FleetOptions tune PrepareFleet.
type FleetOptions struct {
	// Shared caches node-independent work; NewShared(os.ReadFile, time.Now()).
	Shared *Shared
	// Agent loads the embedded kubebake-join of an architecture (embed.Load);
	// it is called once per architecture the fleet needs.
	Agent func(arch string) (embed.Agent, error)
	// Workers render in parallel; 0 means one per CPU (GOMAXPROCS).
	Workers int
}

// Fleet is a validated fleet, ready to write.
type Fleet struct {
	nodes    []fleetNode
	shared   *Shared
	workers  int
	warnings []FleetWarning
}

type fleetNode struct {
	name  string
	file  string
	spec  *Spec
	agent *embed.Agent
	given options.Given
}

// Locate makes an input error that names a flag (--max-size) name where
// the value came from instead (nodes.yaml:12: max-size), when given knows.
func Locate(given options.Given, err error) error {
	var ie *InputError
	if errors.As(err, &ie) && strings.HasPrefix(ie.Field, "--") {
		if name := strings.TrimPrefix(ie.Field, "--"); given.Has(name) {
			ie.Field = given.Where(name)
		}
	}
	return err
}

// FleetWarning is a warning and the nodes it concerns (all of them when
// Nodes is empty).
type FleetWarning struct {
	Warning Warning
	Nodes   []string
}

// Warnings are the distinct warnings of the fleet's nodes.
func (f *Fleet) Warnings() []FleetWarning { return f.warnings }

// Len is the number of nodes.
func (f *Fleet) Len() int { return len(f.nodes) }

// ValidNode is one validated node of a fleet: its name, its spec as render
// checked it, and where each of its options came from.
type ValidNode struct {
	Name  string
	Spec  *Spec
	Given options.Given
}

// Nodes are the validated nodes, in the nodes file's order: the cluster
// commands take their tokens, CAs and endpoints from them.
func (f *Fleet) Nodes() []ValidNode {
	out := make([]ValidNode, len(f.nodes))
	for i, n := range f.nodes {
		out[i] = ValidNode{Name: n.name, Spec: n.spec, Given: n.given}
	}
	return out
}

// PrepareFleet validates every node before anything is written: names
// (unique, usable as file names), inputs (as a single render checks them),
// hostnames (unique). Errors are *NodeError naming the node, wrapping the
// *InputError naming the option.
func PrepareFleet(nodes []FleetNode, opt FleetOptions) (*Fleet, error) {
	if len(nodes) == 0 {
		return nil, errors.New("no nodes: the nodes file lists none")
	}
	if opt.Shared == nil {
		return nil, errors.New("PrepareFleet: no Shared")
	}
	f := &Fleet{shared: opt.Shared, workers: opt.Workers}
	if f.workers <= 0 {
		f.workers = runtime.GOMAXPROCS(0)
	}
	env := opt.Shared.Env()
	agents := map[string]*embed.Agent{}
	names := map[string]bool{}
	files := map[string]string{IndexFile: ""}
	hostnames := map[string]string{}
	type tokenUse struct {
		tok  token.Token
		node string // the first node using it
	}
	tokens := map[string]tokenUse{} // by token id
	warnNodes := map[Warning][]string{}
	var warnOrder []Warning
	for i, n := range nodes {
		if n.Name == "" {
			return nil, fmt.Errorf("nodes[%d]: no name", i)
		}
		nameField := "name"
		if n.Where != "" {
			nameField = n.Where + ": name"
		}
		if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
			return nil, &NodeError{Node: n.Name, Err: inputErrorf(nameField, "%s (a node's name names its output file; use a lowercase DNS name such as worker-1)", strings.Join(errs, "; "))}
		}
		if names[n.Name] {
			return nil, &NodeError{Node: n.Name, Err: inputErrorf(nameField, "given twice: every node needs its own name")}
		}
		names[n.Name] = true
		spec, warns, err := NewSpec(n.Inputs, env)
		if err != nil {
			return nil, &NodeError{Node: n.Name, Err: Locate(n.Inputs.Given, err)}
		}
		file := n.Name + Extension(spec.Format)
		if len(file) > 255 {
			return nil, &NodeError{Node: n.Name, Err: inputErrorf(nameField, "its output %s is longer than the 255 bytes a file name may have: shorten the name", file)}
		}
		if id := spec.Token.ID(); id != "" {
			if first, ok := tokens[id]; !ok {
				tokens[id] = tokenUse{spec.Token, n.Name}
			} else if subtle.ConstantTimeCompare([]byte(first.tok.Secret()), []byte(spec.Token.Secret())) != 1 {
				return nil, &NodeError{Node: n.Name, Err: inputErrorf(n.Inputs.Given.Where("token-file"), "token %s has another secret than node %q's: one id names one token (the cluster keeps one Secret per id), so one of the two pools could never join", id, first.node)}
			}
		}
		if other, dup := files[file]; dup {
			if other == "" {
				return nil, &NodeError{Node: n.Name, Err: inputErrorf(nameField, "its output %s would be the fleet's index; rename the node", file)}
			}
			return nil, &NodeError{Node: n.Name, Err: inputErrorf(nameField, "its output %s is node %q's too; rename one", file, other)}
		}
		files[file] = n.Name
		if spec.Hostname != "" {
			if other, dup := hostnames[spec.Hostname]; dup {
				return nil, &NodeError{Node: n.Name, Err: inputErrorf(n.Inputs.Given.Where("hostname"), "%q is node %q's hostname too: the second kubelet would take over the first one's Node", spec.Hostname, other)}
			}
			hostnames[spec.Hostname] = n.Name
		}
		for _, w := range warns {
			if _, seen := warnNodes[w]; !seen {
				warnOrder = append(warnOrder, w)
			}
			warnNodes[w] = append(warnNodes[w], n.Name)
		}
		fn := fleetNode{name: n.Name, file: file, spec: spec, given: n.Inputs.Given}
		if spec.JoinBinary == JoinEmbedded {
			a, ok := agents[spec.Arch]
			if !ok {
				if opt.Agent == nil {
					return nil, embed.ErrMissing
				}
				loaded, err := opt.Agent(spec.Arch)
				if err != nil {
					return nil, &NodeError{Node: n.Name, Err: err}
				}
				a = &loaded
				agents[spec.Arch] = a
			}
			fn.agent = a
		}
		f.nodes = append(f.nodes, fn)
	}
	for _, w := range warnOrder {
		fw := FleetWarning{Warning: w}
		if len(warnNodes[w]) < len(nodes) {
			fw.Nodes = warnNodes[w]
		}
		f.warnings = append(f.warnings, fw)
	}
	return f, nil
}

// Write renders every node into a new directory beside dir and then puts
// it in dir's place: dir holds every output and index.json, or, after an
// error, is as it was. An existing dir is replaced only when it is empty or
// a fleet directory itself (it holds index.json). Each output is mode 0600
// and streamed to its file; at most Workers outputs are in memory at once.
// All of it is on the disk (synced) before it takes dir's place.
func (f *Fleet) Write(ctx context.Context, dir string) (*Index, error) {
	dir = filepath.Clean(dir)
	replace, err := checkOutDir(dir)
	if err != nil {
		return nil, err
	}
	// The outputs hold the token: a signal (atomicfile.CleanupOnSignal)
	// removes the directory they are written in, and so does an error.
	tmp, err := atomicfile.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, inputErrorf("--out-dir", "the outputs are written into a new directory beside %s and then put in its place: %v", dir, err)
	}
	defer atomicfile.Release(tmp)

	idx := &Index{Nodes: make([]IndexEntry, len(f.nodes))}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make([]error, len(f.nodes))
	var wg sync.WaitGroup
	for w := 0; w < min(f.workers, len(f.nodes)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				e, err := f.writeNode(tmp, f.nodes[i])
				if err != nil {
					errs[i] = &NodeError{Node: f.nodes[i].name, Err: Locate(f.nodes[i].given, err)}
					cancel()
					continue
				}
				idx.Nodes[i] = e
			}
		}()
	}
feed:
	for i := range f.nodes {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, IndexFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	// Every output reaches the disk before the directory takes dir's place:
	// one sync of the file system rather than one per file, which would
	// make a fleet of small outputs wait on the disk a thousand times.
	if err := syncFS(tmp); err != nil {
		return nil, err
	}
	if err := swapDir(tmp, dir, replace); err != nil {
		return nil, err
	}
	// An exchange left the previous directory at tmp.
	if err := atomicfile.Release(tmp); err != nil {
		return nil, fmt.Errorf("removing the previous %s (now %s): %w", dir, tmp, err)
	}
	return idx, nil
}

// writeNode renders one node into dir/<file>, hashing what it writes.
func (f *Fleet) writeNode(dir string, n fleetNode) (e IndexEntry, err error) {
	p, err := Build(n.spec, n.agent)
	if err != nil {
		return e, err
	}
	doc, large, err := emit(p, n.spec, f.shared)
	if err != nil {
		return e, err
	}
	ch, err := configHashWith(p, f.shared.digest)
	if err != nil {
		return e, err
	}
	out, err := atomicfile.Create(filepath.Join(dir, n.file), 0o600)
	if err != nil {
		return e, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	// --gzip and --max-size hold per node as for a single render.
	var sink io.Writer = cw
	var zw *gzip.Writer
	if n.spec.Gzip {
		if zw, err = gzip.NewWriterLevel(cw, gzip.BestCompression); err != nil {
			return e, err
		}
		sink = zw
	}
	bw := bufio.NewWriterSize(sink, 256<<10)
	if err := large.writeTo(bw, doc, f.shared); err != nil {
		return e, err
	}
	if err := bw.Flush(); err != nil {
		return e, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return e, err
		}
	}
	if err := n.spec.CheckSize(int(cw.n)); err != nil {
		return e, err
	}
	return IndexEntry{
		Name: n.name, File: n.file, Format: string(n.spec.Format), Hostname: n.spec.Hostname,
		TokenID: n.spec.Token.ID(), Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), ConfigHash: ch,
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// checkOutDir says whether dir exists and may be replaced; it refuses a
// directory that is not empty and not a fleet's.
func checkOutDir(dir string) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(dir)); err != nil {
			return false, inputErrorf("--out-dir", "%v", err)
		}
		return false, nil
	}
	if err != nil {
		return false, inputErrorf("--out-dir", "%v", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return false, inputErrorf("--out-dir", "%s is a symbolic link: name the directory itself (the link would be replaced, not its target)", dir)
	case !fi.IsDir():
		return false, inputErrorf("--out-dir", "%s exists and is not a directory", dir)
	}
	if wd, err := os.Getwd(); err == nil {
		if abs, err := filepath.Abs(dir); err == nil && (abs == wd || strings.HasPrefix(wd, abs+string(filepath.Separator))) {
			return false, inputErrorf("--out-dir", "%s is the current directory or holds it, which cannot be replaced: name it from outside (cd ..)", dir)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, inputErrorf("--out-dir", "%v", err)
	}
	if len(entries) == 0 {
		return true, nil
	}
	notOurs := func(why string, args ...any) error {
		return inputErrorf("--out-dir", "%s is not a fleet directory kubebake wrote (%s), so it is not replaced; name a new or empty directory", dir, fmt.Sprintf(why, args...))
	}
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return false, notOurs("it holds files and no readable %s", IndexFile)
	}
	// Replace only what an earlier run wrote: its index.json and the
	// files it lists, nothing else (a user's files, the run's own inputs).
	var idx Index
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil || len(idx.Nodes) == 0 {
		return false, notOurs("its %s is not kubebake's", IndexFile)
	}
	listed := map[string]bool{IndexFile: true}
	for _, e := range idx.Nodes {
		listed[e.File] = true
	}
	for _, e := range entries {
		if !listed[e.Name()] || !e.Type().IsRegular() {
			return false, notOurs("it holds %s, which its %s does not list", e.Name(), IndexFile)
		}
	}
	return true, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// swapDir puts tmp in dir's place: a rename when dir does not exist, an
// atomic exchange when it does (the old directory is then at tmp, for the
// caller to remove).
func swapDir(tmp, dir string, replace bool) error {
	err := atomicfile.Swap(func() error {
		if !replace {
			return os.Rename(tmp, dir)
		}
		if err := exchange(tmp, dir); err != nil {
			return fmt.Errorf("replacing %s: %w", dir, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}
