// Command benchfleet prints the figures of `kubebake render --nodes`, each
// as a ratio measured in one run on this machine:
//
//   - 1,000 baked (thin) nodes in one call against a loop of separate
//     `kubebake render` processes (50 measured, scaled to 1,000);
//
//   - 1,000 embedded nodes (3.6 MB each) in one call against writing the
//     same bytes to the same disk (as many files, as many writers, each
//     file fsynced): the disk's own speed;
//
//   - the peak RSS of one call with 100 and with 1,000 nodes, which should
//     not grow with the node count;
//
//   - 1,000 baked nodes that each carry their own labels (an index and a
//     pool label), taints (every fifth node) and max-pods, against 1,000
//     that differ only in hostname (issue 21: within 1.5×; in wall time,
//     and in CPU time, which a loaded machine disturbs less), and against
//     separate processes (at least 50×). -only labels runs just these.
//
//     go run ./tools/benchfleet -kubebake bin/kubebake [-nodes 1000] [-singles 50]
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	kb := flag.String("kubebake", "bin/kubebake", "the kubebake binary")
	nodes := flag.Int("nodes", 1000, "nodes in the large fleets")
	singles := flag.Int("singles", 50, "separate processes to measure and scale")
	testdata := flag.String("testdata", "testdata", "the testdata directory (sample CA and token)")
	workdir := flag.String("dir", "", "directory to write in (default: a temporary one under $TMPDIR)")
	only := flag.String("only", "", "\"labels\": only the per-node labels figures")
	flag.Parse()

	dir, err := os.MkdirTemp(*workdir, "benchfleet-")
	check(err)
	defer os.RemoveAll(dir)
	ca, tok := abs(filepath.Join(*testdata, "ca.crt")), abs(filepath.Join(*testdata, "token"))
	shared := []string{"render", "--ca", ca, "--token-file", tok, "--api-server", "10.0.0.10:6443"}

	// Separate processes, as a shell loop runs them: one per node.
	start := time.Now()
	for i := range *singles {
		args := append(append([]string{}, shared...), "--join-binary", "baked", "--hostname", fmt.Sprintf("node-%04d", i),
			"--node-labels", fmt.Sprintf("example.com/rack=r%d", i%40), "-o", filepath.Join(dir, fmt.Sprintf("single-%04d.ign", i)))
		run(*kb, args...)
	}
	perProcess := time.Since(start) / time.Duration(*singles)
	loop := perProcess * time.Duration(*nodes)

	// Per-node labels, taints and max-pods against hostnames only: each
	// the faster of two runs, taken in turn.
	plain := fleetOf(*kb, dir, "plain-1", *nodes, shared, "baked", true, hostnameOnly)
	labelled := fleetOf(*kb, dir, "labelled-1", *nodes, shared, "baked", true, perNode)
	plain = best(plain, fleetOf(*kb, dir, "plain-2", *nodes, shared, "baked", true, hostnameOnly))
	labelled = best(labelled, fleetOf(*kb, dir, "labelled-2", *nodes, shared, "baked", true, perNode))
	printLabels := func() {
		fmt.Printf("per-node labels, taints, max-pods (%d baked nodes, one call): %.2fs vs %.2fs hostnames only: %.2f× (goal ≤ 1.5×)\n",
			*nodes, labelled.wall.Seconds(), plain.wall.Seconds(), labelled.wall.Seconds()/plain.wall.Seconds())
		// CPU time (user+system) varies less than wall time on a loaded machine.
		fmt.Printf("  the same in CPU time (user+system):                          %.2fs vs %.2fs: %.2f×\n",
			labelled.cpu.Seconds(), plain.cpu.Seconds(), labelled.cpu.Seconds()/plain.cpu.Seconds())
		fmt.Printf("per-node labels in one call vs separate processes:          %.0f× faster (goal ≥ 50×)\n", loop.Seconds()/labelled.wall.Seconds())
	}
	if *only == "labels" {
		printLabels()
		return
	}

	// Each fleet runs twice and the faster run counts, as does the faster
	// of two raw writes, taken in turn with the embedded fleet's: the page
	// cache and the disk's write-back vary from run to run by up to 2× on
	// a shared virtual disk, and a ratio of two single runs would mostly
	// measure that.
	//
	// The baked fleets come first and their outputs stay until the end:
	// when ext4 allocates an inode it passes over those freed in the last
	// few minutes (recently_deleted in ialloc.c), reading their inode
	// blocks, so creating a thousand small files right after thousands were
	// deleted costs up to 1 ms a file instead of 35 µs, whoever creates
	// them. Delete nothing before the small-file measurements.
	baked := best(fleet(*kb, dir, "baked-1", *nodes, shared, "baked", true), fleet(*kb, dir, "baked-2", *nodes, shared, "baked", true))
	embedded := fleet(*kb, dir, "embedded", *nodes, shared, "embedded", false)
	size, writers := embedded.bytes/int64(embedded.files), runtime.GOMAXPROCS(0)
	disk := diskWrite(dir, embedded.files, size, writers, false)
	hashed := diskWrite(dir, embedded.files, size, writers, true)
	embedded = best(embedded, fleet(*kb, dir, "embedded", *nodes, shared, "embedded", false))
	disk = min(disk, diskWrite(dir, embedded.files, size, writers, false))
	hashed = min(hashed, diskWrite(dir, embedded.files, size, writers, true))
	small := best(fleet(*kb, dir, "embedded-small", *nodes/10, shared, "embedded", false), fleet(*kb, dir, "embedded-small", *nodes/10, shared, "embedded", false))
	// Last, as it deletes many files: what is kept a node until every node
	// is valid, in a fleet twenty times as large.
	huge := fleet(*kb, dir, "baked-huge", *nodes*20, shared, "baked", false)

	fmt.Printf("kubebake render --nodes (%d CPUs; outputs, index.json, one syncfs, directory renamed into place;\n", runtime.NumCPU())
	fmt.Printf("each fleet and the raw write: the faster of two runs)\n\n")
	fmt.Printf("| %-46s | %10s | %12s | %10s |\n", "what", "wall", "per node", "peak RSS")
	fmt.Printf("|%s|%s|%s|%s|\n", dash(48), dash(12), dash(14), dash(12))
	row := func(name string, d time.Duration, n int, rss int64) {
		r := "-"
		if rss > 0 {
			r = fmt.Sprintf("%.0f MB", float64(rss)/1e6)
		}
		fmt.Printf("| %-46s | %9.2fs | %10.2fms | %10s |\n", name, d.Seconds(), ms(d)/float64(n), r)
	}
	row(fmt.Sprintf("%d separate processes, baked (scaled from %d)", *nodes, *singles), loop, *nodes, 0)
	row(fmt.Sprintf("%d baked nodes in one call", *nodes), baked.wall, *nodes, baked.rss)
	row(fmt.Sprintf("%d embedded nodes in one call (%.1f GB)", *nodes, float64(embedded.bytes)/1e9), embedded.wall, *nodes, embedded.rss)
	row(fmt.Sprintf("%d embedded nodes in one call", small.files), small.wall, small.files, small.rss)
	row(fmt.Sprintf("%d baked nodes in one call", huge.files), huge.wall, huge.files, huge.rss)
	row(fmt.Sprintf("the same %.1f GB written raw (%d writers, syncfs)", float64(embedded.bytes)/1e9, runtime.GOMAXPROCS(0)), disk, *nodes, 0)
	row("the same, each file's SHA-256 taken as written", hashed, *nodes, 0)
	fmt.Println()
	fmt.Printf("one call vs separate processes (baked):      %.0f× faster (goal ≥ 50×)\n", loop.Seconds()/baked.wall.Seconds())
	fmt.Printf("embedded fleet vs raw disk writes:           %.2f× the disk's time (%.0f MB/s vs %.0f MB/s)\n",
		embedded.wall.Seconds()/disk.Seconds(), float64(embedded.bytes)/1e6/embedded.wall.Seconds(), float64(embedded.bytes)/1e6/disk.Seconds())
	fmt.Printf("embedded fleet vs raw writes + SHA-256:      %.2f× (index.json lists every output's SHA-256)\n", embedded.wall.Seconds()/hashed.Seconds())
	fmt.Printf("peak RSS, %d vs %d embedded nodes:         %.2f×\n", *nodes, small.files, float64(embedded.rss)/float64(small.rss))
	fmt.Printf("peak RSS, %d vs %d baked nodes:          %.2f× (%.1f kB a node more)\n", huge.files, *nodes, float64(huge.rss)/float64(baked.rss), float64(huge.rss-baked.rss)/1e3/float64(huge.files-*nodes))
	printLabels()
}

// hostnameOnly and perNode write one node of a nodes file.
func hostnameOnly(b *bytes.Buffer, i int) {
	fmt.Fprintf(b, "- name: node-%04d\n  hostname: node-%04d\n", i, i)
}

func perNode(b *bytes.Buffer, i int) {
	fmt.Fprintf(b, "- name: node-%04d\n  hostname: node-%04d\n  node-labels: [example.com/index=%d, example.com/pool=p%d]\n  max-pods: %d\n", i, i, i, i%7, 100+i%50)
	if i%5 == 0 {
		fmt.Fprintf(b, "  register-with-taints: [example.com/gpu=g%d:NoSchedule]\n", i)
	}
}

// best is the faster of two runs, with the larger peak RSS of the two and
// the smaller CPU time.
func best(a, b fleetResult) fleetResult {
	r := a
	if b.wall < a.wall {
		r = b
	}
	r.rss = max(a.rss, b.rss)
	r.cpu = min(a.cpu, b.cpu)
	return r
}

type fleetResult struct {
	wall  time.Duration
	cpu   time.Duration // user + system
	rss   int64         // bytes
	files int
	bytes int64
}

// fleet renders n nodes of one join-binary mode in one process; unless
// keep, it deletes them after counting.
func fleet(kb, dir, name string, n int, shared []string, mode string, keep bool) fleetResult {
	return fleetOf(kb, dir, name, n, shared, mode, keep, func(b *bytes.Buffer, i int) {
		fmt.Fprintf(b, "- name: node-%04d\n  hostname: node-%04d\n  node-labels: [example.com/rack=r%d]\n", i, i, i%40)
	})
}

// fleetOf is fleet with each node written by node.
func fleetOf(kb, dir, name string, n int, shared []string, mode string, keep bool, node func(*bytes.Buffer, int)) fleetResult {
	var b bytes.Buffer
	b.WriteString("defaults:\n  join-binary: " + mode + "\nnodes:\n")
	for i := range n {
		node(&b, i)
	}
	nodesFile := filepath.Join(dir, name+".yaml")
	check(os.WriteFile(nodesFile, b.Bytes(), 0o600))
	out := filepath.Join(dir, name)
	cmd := exec.Command(kb, append(append([]string{}, shared...), "--nodes", nodesFile, "--out-dir", out)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(stderr.Bytes())
		check(err)
	}
	r := fleetResult{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = ru.Maxrss * 1024
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	entries, err := os.ReadDir(out)
	check(err)
	for _, e := range entries {
		fi, err := e.Info()
		check(err)
		if e.Name() != "index.json" {
			r.files++
			r.bytes += fi.Size()
		}
	}
	if !keep {
		check(os.RemoveAll(out))
	}
	return r
}

// diskWrite writes files files of size bytes each with writers goroutines,
// then syncs the file system, as the fleet does: what the disk alone allows,
// or, with hash, the disk and the SHA-256 of every file that index.json
// lists.
func diskWrite(dir string, files int, size int64, writers int, hash bool) time.Duration {
	out := filepath.Join(dir, "raw")
	check(os.Mkdir(out, 0o700))
	defer os.RemoveAll(out)
	data := bytes.Repeat([]byte("kubebake"), int(size/8)+1)[:size]
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				f, err := os.OpenFile(filepath.Join(out, fmt.Sprint(i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				check(err)
				var w io.Writer = f
				if hash {
					w = io.MultiWriter(f, sha256.New())
				}
				_, err = w.Write(data)
				check(err)
				check(f.Close())
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fd, err := unix.Open(out, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	check(err)
	check(unix.Syncfs(fd))
	unix.Close(fd)
	return time.Since(start)
}

// run runs a command, showing its standard error only when it fails (a
// render to a file says what it wrote there).
func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(stderr.Bytes())
		check(err)
	}
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	check(err)
	return a
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func dash(n int) string { return string(bytes.Repeat([]byte("-"), n)) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfleet:", err)
		os.Exit(1)
	}
}
