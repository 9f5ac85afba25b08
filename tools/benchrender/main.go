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

	if *butane != "" {
		// The same config, but the agent inlined from a local file: butane
		// reads and gzips the 7 MB binary on every translation.
		bu := filepath.Join(dir, "worker.bu")
		run(*kb, append(append([]string{}, base...), "--format", "butane", "--join-binary", "baked", "-o", bu)...)
		run(*kb, "join-binary", "--arch", "amd64", "-o", filepath.Join(dir, "kubebake-join"))
		data, err := os.ReadFile(bu)
		check(err)
		local := strings.Replace(string(data), "storage:\n  files:\n", "storage:\n  files:\n    - path: /usr/local/bin/kubebake-join\n      mode: 0755\n      contents:\n        local: kubebake-join\n", 1)
		check(os.WriteFile(bu, []byte(local), 0o600))
		med := median(*runs, func() { run(*butane, "--files-dir", dir, "-o", filepath.Join(dir, "butane.ign"), bu) })
		fmt.Printf("\n%-34s %10.1fms\n", "butane CLI, agent as a local file", ms(med))
	}
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
