// Command benchrender prints kubebake's render figures: per format, the
// median wall time of `kubebake render` as a whole process and the output
// size; the size of each embedded agent; and, when a butane binary is
// given, the time the butane CLI needs for an equivalent config with the
// agent inlined from a local file (the bar kubebake must beat by 10×).
//
//	go run ./tools/benchrender -kubebake bin/kubebake [-butane PATH] [-runs 15]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	kb := flag.String("kubebake", "bin/kubebake", "the kubebake binary")
	butane := flag.String("butane", "", "a butane CLI binary to compare with (optional)")
	runs := flag.Int("runs", 15, "runs per measurement")
	testdata := flag.String("testdata", "testdata", "the testdata directory (sample CA and token)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "benchrender-")
	check(err)
	defer os.RemoveAll(dir)
	base := []string{"render", "--ca", filepath.Join(*testdata, "ca.crt"), "--token-file", filepath.Join(*testdata, "token"), "--api-server", "10.0.0.10:6443"}

	fmt.Printf("%-34s %12s %14s\n", "render (whole process)", "median", "output bytes")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"ignition  embedded", []string{"--format", "ignition"}},
		{"butane    embedded", []string{"--format", "butane"}},
		{"cloud-init embedded", []string{"--format", "cloud-init"}},
		{"ignition  baked (thin)", []string{"--format", "ignition", "--join-binary", "baked"}},
		{"cloud-init baked (thin)", []string{"--format", "cloud-init", "--join-binary", "baked"}},
		{"ignition  flatcar containerd", []string{"--format", "ignition", "--variant", "flatcar", "--runtime", "containerd"}},
		{"tar       --part image", []string{"--format", "tar", "--part", "image"}},
		{"ignition  --part boot", []string{"--format", "ignition", "--part", "boot"}},
		{"cloud-init --part boot", []string{"--format", "cloud-init", "--part", "boot"}},
		{"inspect   (ignition embedded)", nil},
	} {
		if c.args == nil {
			// kubebake inspect of the default Ignition output.
			ign := filepath.Join(dir, "inspect.ign")
			run(*kb, append(append([]string{}, base...), "-o", ign)...)
			med := median(*runs, func() { run(*kb, "inspect", ign) })
			fmt.Printf("%-34s %10.1fms %14s\n", c.name, ms(med), "-")
			continue
		}
		out := filepath.Join(dir, "out")
		args := append(append(append([]string{}, base...), c.args...), "-o", out)
		med := median(*runs, func() { run(*kb, args...) })
		fi, err := os.Stat(out)
		check(err)
		fmt.Printf("%-34s %10.1fms %14d\n", c.name, ms(med), fi.Size())
	}

	fmt.Printf("\n%-34s %12s %14s\n", "kubebake-join", "bytes", "gzip -9 bytes")
	for _, arch := range []string{"amd64", "arm64"} {
		bin := filepath.Join(dir, "kubebake-join-"+arch)
		run(*kb, "join-binary", "--arch", arch, "-o", bin)
		fi, err := os.Stat(bin)
		check(err)
		gz, err := os.ReadFile(filepath.Join("embed", "dist", "kubebake-join-linux-"+arch+".gz"))
		check(err)
		fmt.Printf("%-34s %12d %14d\n", "linux/"+arch, fi.Size(), len(gz))
	}

	start := startup(*kb, base, dir, *runs)

	if *butane != "" {
		// The same config, but the agent inlined from a local file: butane
		// reads and gzips the 7 MB binary on every translation.
		bu := filepath.Join(dir, "worker.bu")
		run(*kb, append(append([]string{}, base...), "--format", "butane", "--join-binary", "baked", "-o", bu)...)
		run(*kb, "join-binary", "--arch", "amd64", "-o", filepath.Join(dir, "kubebake-join"))
		data, err := os.ReadFile(bu)
		check(err)
		// storage.files follows storage.directories (the token's 0700
		// directory) in our Butane.
		const files = "\n  files:\n"
		if !strings.Contains(string(data), files) {
			fmt.Fprintf(os.Stderr, "benchrender: no storage.files in the Butane config\n")
			os.Exit(1)
		}
		local := strings.Replace(string(data), files, files+"    - path: /usr/local/bin/kubebake-join\n      mode: 0755\n      contents:\n        local: kubebake-join\n", 1)
		check(os.WriteFile(bu, []byte(local), 0o600))
		ign := filepath.Join(dir, "butane.ign")
		med := median(*runs, func() { run(*butane, "--files-dir", dir, "-o", ign, bu) })
		// The comparison means something only if butane inlined the agent.
		if fi, err := os.Stat(ign); err != nil || fi.Size() < 1<<20 {
			fmt.Fprintf(os.Stderr, "benchrender: the butane CLI's output does not hold the agent (%v)\n", err)
			os.Exit(1)
		}
		fmt.Printf("\n%-34s %10.1fms\n", "butane CLI, agent as a local file", ms(med))
		ratio("embedded Ignition render / butane CLI", start.embedded, med, "<= 0.025x")
	}
}

// startTimes are the start-up figures the butane comparison reuses.
type startTimes struct{ embedded time.Duration }

// startup prints kubebake's start-up against a Go hello-world process
// built here, measured in the same run: a baked render, `kubebake
// version`, and the largest package init of a baked render's process
// (GODEBUG=inittrace=1; each package's smallest of the runs, which the
// machine's other work inflates least). Issue 21's goals beside each.
func startup(kb string, base []string, dir string, runs int) startTimes {
	hello := filepath.Join(dir, "hello")
	src := filepath.Join(dir, "hello.go")
	check(os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o600))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", hello, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "benchrender: building a hello-world: %v\n%s", err, out)
		os.Exit(1)
	}
	out := filepath.Join(dir, "start.ign")
	baked := append(append([]string{}, base...), "--format", "ignition", "--join-binary", "baked", "-o", out)
	embedded := append(append([]string{}, base...), "--format", "ignition", "-o", out)
	// Interleaved, so that a burst of other work hits all alike. Wall
	// time, and CPU time (user + system), which the machine's other work
	// inflates far less.
	var h, b, v, e, n, hc, bc, vc, ec, nc []time.Duration
	for i := 0; i <= runs; i++ {
		var w, c time.Duration
		w, c = timedCPU(hello)
		h, hc = append(h, w), append(hc, c)
		w, c = timedCPU(kb, baked...)
		b, bc = append(b, w), append(bc, c)
		w, c = timedCPU(kb, "version")
		v, vc = append(v, w), append(vc, c)
		w, c = timedCPU(kb, embedded...)
		e, ec = append(e, w), append(ec, c)
		w, c = timedCPU(kb, "help")
		n, nc = append(n, w), append(nc, c)
	}
	mh, mb, mv, me := med(h[1:]), med(b[1:]), med(v[1:]), med(e[1:])
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("\nload average at the end of the start-up runs: %s (2 cores here)", strings.Join(strings.Fields(string(la))[:3], " "))
	}
	fmt.Printf("\n%-44s %10s %10s %12s\n", "start-up (medians, interleaved runs)", "kubebake", "reference", "ratio (goal)")
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx (<= 3x)\n", "baked render / Go hello-world process", ms(mb), ms(mh), float64(mb)/float64(mh))
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx\n", "  the same in CPU time (user + system)", ms(med(bc[1:])), ms(med(hc[1:])), float64(med(bc[1:]))/float64(med(hc[1:])))
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx (< 20 ms)\n", "kubebake version / Go hello-world process", ms(mv), ms(mh), float64(mv)/float64(mh))
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx\n", "  the same in CPU time (user + system)", ms(med(vc[1:])), ms(med(hc[1:])), float64(med(vc[1:]))/float64(med(hc[1:])))
	// The floor: this binary doing nothing (`kubebake help`) against the
	// hello-world, and what a baked render adds to it.
	mn := med(n[1:])
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx\n", "kubebake help (no work) / Go hello-world", ms(mn), ms(mh), float64(mn)/float64(mh))
	fmt.Printf("%-44s %8.1fms %8.1fms %7.1fx\n", "  the same in CPU time (user + system)", ms(med(nc[1:])), ms(med(hc[1:])), float64(med(nc[1:]))/float64(med(hc[1:])))
	fmt.Printf("%-44s %8.1fms\n", "baked render less kubebake help", ms(mb-mn))
	_ = ec

	// Package inits of a baked render: the smallest of the runs each.
	least := map[string]float64{}
	for i := 0; i < runs; i++ {
		c := exec.Command(kb, baked...)
		c.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		stderr, err := c.CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchrender: %v\n%s", err, stderr)
			os.Exit(1)
		}
		for _, line := range strings.Split(string(stderr), "\n") {
			// init PKG @T ms, D ms clock, B bytes, A allocs
			f := strings.Fields(line)
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			var d float64
			if _, err := fmt.Sscanf(f[4], "%g", &d); err != nil {
				continue
			}
			if old, ok := least[f[1]]; !ok || d < old {
				least[f[1]] = d
			}
		}
	}
	type pkgInit struct {
		pkg string
		ms  float64
	}
	var inits []pkgInit
	total := 0.0
	for p, d := range least {
		inits = append(inits, pkgInit{p, d})
		total += d
	}
	sort.Slice(inits, func(i, j int) bool { return inits[i].ms > inits[j].ms })
	fmt.Printf("%-44s %8.2fms %10s %12s\n", fmt.Sprintf("package inits of a baked render (%d)", len(inits)), total, "", "")
	for i := 0; i < len(inits) && i < 3; i++ {
		goal := ""
		if i == 0 {
			goal = "(each <= 1 ms)"
		}
		fmt.Printf("  %-42s %8.2fms %10s %12s\n", inits[i].pkg, inits[i].ms, "", goal)
	}
	return startTimes{embedded: me}
}

func ratio(what string, a, ref time.Duration, goal string) {
	fmt.Printf("%-44s %8.1fms %8.1fms %7.3fx (%s)\n", what, ms(a), ms(ref), float64(a)/float64(ref), goal)
}

// timedCPU runs a process and returns its wall and CPU (user + system) time.
func timedCPU(name string, args ...string) (wall, cpu time.Duration) {
	cmd := exec.Command(name, args...)
	t := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(t)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		os.Exit(1)
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func med(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func median(n int, f func()) time.Duration {
	f() // warm the page cache
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		f()
		ds[i] = time.Since(t)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrender:", err)
		os.Exit(1)
	}
}
