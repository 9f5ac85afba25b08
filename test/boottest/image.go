// Package boottest boots kubebake's rendered configs for real: a Debian
// bookworm image (scripts/setup-boot.sh) in qemu, with systemd as PID 1.
//
// A test lays its own files (the kubelet, a baked agent, the probe, an
// Ignition config's files) over the cached image root with overlayfs and
// makes the machine's disk from the merged tree with mkfs.ext4 -d, so no
// loop device or mount outlives the command that made it. cloud-init reads
// its user-data from a NoCloud `cidata` seed volume at boot. The probe unit
// prints the machine's state to a second serial port, which the test reads.
//
// Every qemu is started with testcluster.StartProcess, so it is stopped by
// its PID when the test ends.
package boottest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubebake/kubebake/test/consumertest"
	"github.com/kubebake/kubebake/test/testcluster"
)

// SetupCommand makes the image.
const SetupCommand = "scripts/setup-boot.sh"

// recipe is the image recipe this package expects (scripts/setup-boot.sh's
// RECIPE).
const recipe = "recipe 4"

// Image is the cached image of scripts/setup-boot.sh.
type Image struct {
	Root   string // the image's root tree, never written to
	Kernel string
	Initrd string
	// Accel is "kvm" or "tcg"; AccelWhy says why (setup-boot's trial boot).
	Accel, AccelWhy string
	// CRIDockerd is the cri-dockerd binary, or "" when it could not be
	// built; CRIDockerdFailed then says why.
	CRIDockerd, CRIDockerdFailed string
}

// Load finds the image; without it the test fails under CI=true and is
// skipped otherwise. It also needs root (overlay mounts) and the host tools.
func Load(t testing.TB) *Image {
	t.Helper()
	if os.Geteuid() != 0 {
		testcluster.Missing(t, "the boot tier needs root (overlay mounts, mkfs.ext4 -d of a root-owned tree)", "make test as root")
	}
	for _, tool := range []string{"qemu-system-x86_64", "genisoimage", "mkfs.ext4", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			testcluster.Missing(t, "no "+tool+" on PATH", SetupCommand)
		}
	}
	cache, err := testcluster.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "boot")
	img := &Image{Root: filepath.Join(dir, "root")}
	if data, err := os.ReadFile(filepath.Join(img.Root, ".kubebake-boot-root")); err != nil || strings.TrimSpace(string(data)) != recipe {
		testcluster.Missing(t, fmt.Sprintf("no boot image of %s at %s", recipe, img.Root), SetupCommand)
	}
	img.Kernel = filepath.Join(img.Root, "boot", "vmlinuz")
	img.Initrd = filepath.Join(img.Root, "boot", "initrd.img")
	accel, err := os.ReadFile(filepath.Join(dir, "accel"))
	if err != nil {
		testcluster.Missing(t, "no accelerator verdict in "+dir, SetupCommand)
	}
	first, _, _ := strings.Cut(string(accel), "\n")
	img.Accel, img.AccelWhy, _ = strings.Cut(first, ": ")
	if img.Accel != "kvm" {
		img.Accel = "tcg"
	}
	if fi, err := os.Stat(filepath.Join(dir, "cri-dockerd")); err == nil && fi.Mode()&0o111 != 0 {
		img.CRIDockerd = filepath.Join(dir, "cri-dockerd")
	} else if why, err := os.ReadFile(filepath.Join(dir, "cri-dockerd.failed")); err == nil {
		img.CRIDockerdFailed = strings.TrimSpace(string(why))
	} else {
		img.CRIDockerdFailed = "scripts/setup-boot.sh left neither cri-dockerd nor a reason in " + dir
	}
	return img
}

// Layer is what one machine adds to the image: a directory laid over the
// image root.
type Layer struct {
	Dir string
	t   testing.TB
}

// NewLayer makes an empty layer.
func NewLayer(t testing.TB) *Layer {
	t.Helper()
	return &Layer{Dir: filepath.Join(shortTempDir(t), "upper"), t: t}
}

// shortTempDir is a temporary directory with a short name of its own:
// overlayfs options cannot hold the commas of some test names, and a unix
// socket's path is limited to 107 bytes.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kb-boot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Write puts a file at path (absolute, in the machine) with mode.
func (l *Layer) Write(path string, data []byte, mode os.FileMode) {
	l.t.Helper()
	p := filepath.Join(l.Dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		l.t.Fatal(err)
	}
}

// Copy puts the host file src at path with mode.
func (l *Layer) Copy(src, path string, mode os.FileMode) {
	l.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		l.t.Fatal(err)
	}
	l.Write(path, data, mode)
}

// Symlink makes path a symlink to target.
func (l *Layer) Symlink(target, path string) {
	l.t.Helper()
	p := filepath.Join(l.Dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		l.t.Fatal(err)
	}
}

// inMerged runs argv with the image root and layer merged by overlayfs at
// $MERGED, in a private mount namespace that dies with the command; "@" in
// argv stands for the merged directory.
func (img *Image) inMerged(t testing.TB, l *Layer, argv ...string) string {
	t.Helper()
	base := filepath.Dir(l.Dir)
	work, merged := filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{l.Dir, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range argv {
		if a == "@" {
			argv[i] = merged
		}
	}
	script := `mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"; shift 4; exec "$@"`
	args := append([]string{"--mount", "--propagation", "private", "sh", "-euc", script, "sh", img.Root, l.Dir, work, merged}, argv...)
	out, err := exec.Command("unshare", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s (over the image root): %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// ApplyIgnition applies an Ignition config to the image root with this
// layer over it, with the real applier's two stages of the file platform
// (fetch-offline, then files), as a machine's initramfs would before its
// first boot. Presets are left to systemd, which applies them at a first
// boot (the image's /etc/machine-id is empty). Any failure or log line
// above INFO fails the test.
func (img *Image) ApplyIgnition(t testing.TB, l *Layer, config string) {
	t.Helper()
	ts := consumertest.Tools(t)
	consumertest.ValidateIgnition(t, config)
	state := t.TempDir()
	cache, stateFile := filepath.Join(state, "config.json"), filepath.Join(state, "state")
	neednet := filepath.Join(state, "neednet")
	fetch := exec.Command(ts.Ignition, "-platform", "file", "-stage", "fetch-offline",
		"-config-cache", cache, "-state-file", stateFile, "-neednet", neednet, "-log-to-stdout")
	fetch.Env = append(os.Environ(), "IGNITION_CONFIG_FILE="+config)
	out, err := fetch.CombinedOutput()
	if _, nerr := os.Stat(neednet); nerr == nil {
		// A remote file (a kubelet or system extension from a mirror): as
		// in an initramfs, the fetch stage runs once the network is up, and
		// the files stage fetches and verifies it (boottest.FileServer).
		fetch = exec.Command(ts.Ignition, "-platform", "file", "-stage", "fetch",
			"-config-cache", cache, "-state-file", stateFile, "-log-to-stdout")
		fetch.Env = append(os.Environ(), "IGNITION_CONFIG_FILE="+config)
		out, err = fetch.CombinedOutput()
	}
	logs := []string{string(out)}
	if err != nil {
		t.Fatalf("ignition fetch: %v\n%s", err, out)
	}
	logs = append(logs, img.inMerged(t, l, "env", "IGNITION_CONFIG_FILE="+config, ts.Ignition, "-platform", "file", "-stage", "files",
		"-root", "@", "-config-cache", cache, "-state-file", stateFile, "-log-to-stdout"))
	for _, log := range logs {
		if bad := consumertest.IgnitionComplaints(log); len(bad) > 0 {
			t.Fatalf("ignition reported:\n%s\nfull log:\n%s", strings.Join(bad, "\n"), log)
		}
		if !strings.Contains(log, "Ignition finished successfully") {
			t.Fatalf("ignition did not report success:\n%s", log)
		}
	}
}

// DiskSize is the size of each machine's disk (sparse).
const DiskSize = "4G"

// Disk makes the machine's disk: an ext4 file system of the image root with
// the layer over it.
func (img *Image) Disk(t testing.TB, l *Layer) string {
	t.Helper()
	disk := filepath.Join(filepath.Dir(l.Dir), "disk.raw")
	img.inMerged(t, l, "mkfs.ext4", "-q", "-F", "-L", "root", "-d", "@", disk, DiskSize)
	return disk
}

// Seed makes a NoCloud seed volume (ISO 9660 labelled cidata) with the
// user-data and a meta-data naming the instance and its hostname.
func Seed(t testing.TB, userData []byte, instanceID, hostname string) string {
	t.Helper()
	dir := shortTempDir(t)
	src := filepath.Join(dir, "seed")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", instanceID, hostname)
	for name, data := range map[string][]byte{"user-data": userData, "meta-data": []byte(meta)} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "seed.iso")
	out, err := exec.Command("genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", src).CombinedOutput()
	if err != nil {
		t.Fatalf("genisoimage: %v\n%s", err, out)
	}
	return iso
}
