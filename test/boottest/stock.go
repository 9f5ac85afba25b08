package boottest

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubebake/kubebake/test/testcluster"
)

// FileServer serves files over plain http to the machines: it listens on
// every address of the test's network namespace, so a guest reaches it at
// 10.0.2.2:Port (qemu maps that to the namespace's 127.0.0.1) and the
// Ignition applier, which runs on the host before the first boot, at the
// same address when the namespace has 10.0.2.2 on lo (test/boot's TestMain
// adds it). Files can be replaced while machines run.
type FileServer struct {
	Port  int
	mu    sync.Mutex
	files map[string][]byte
	log   []string
}

// NewFileServer starts a file server, stopped when the test ends.
func NewFileServer(t testing.TB) *FileServer {
	t.Helper()
	fs := &FileServer{files: map[string][]byte{}}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	fs.Port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: fs}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fs
}

// Put serves data at path (replacing what was there).
func (fs *FileServer) Put(path string, data []byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.files[path] = data
}

// URL is the file's URL as a guest sees it.
func (fs *FileServer) URL(path string) string {
	return fmt.Sprintf("http://10.0.2.2:%d%s", fs.Port, path)
}

// Requests are the requests served so far: "GET /path 200 <remote>".
func (fs *FileServer) Requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.log...)
}

func (fs *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	data, ok := fs.files[r.URL.Path]
	code := http.StatusOK
	if !ok {
		code = http.StatusNotFound
	}
	fs.log = append(fs.log, fmt.Sprintf("%s %s %d %s", r.Method, r.URL.Path, code, r.RemoteAddr))
	fs.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.Write(data)
}

// SHA512 is data's hash in Ignition's spelling.
func SHA512(data []byte) string {
	s := sha512.Sum512(data)
	return "sha512-" + hex.EncodeToString(s[:])
}

// SysextDropinExecStart is the ExecStart= of the drop-in the test's
// system extension carries, as the Flatcar bakery's 10-kubeadm.conf does:
// a kubelet started with it exits at once (an unknown flag), so a node
// that joins ran another command line.
const SysextDropinExecStart = "/usr/bin/kubelet --kubebake-boot-test-sysext-dropin-must-not-run"

// Sysext builds a system extension image (squashfs) shaped as the Flatcar
// sysext bakery's Kubernetes one: usr/bin/kubelet, the extension-release
// file for NAME matching the image's OS, a kubeadm-style kubelet.service,
// kubelet.service.d/10-kubeadm.conf with its own ExecStart=, and
// multi-user.target.d/10-kubelet-service.conf with Upholds=kubelet.service.
// It returns the image's bytes.
func (img *Image) Sysext(t testing.TB, name, kubelet string) []byte {
	t.Helper()
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		testcluster.Missing(t, "no mksquashfs on PATH (squashfs-tools) to build the test's system extension", SetupCommand)
	}
	osID, versionID := osRelease(t, img.Root)
	dir := shortTempDir(t)
	tree := filepath.Join(dir, "tree")
	write := func(p string, data []byte, mode os.FileMode) {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(kubelet)
	if err != nil {
		t.Fatal(err)
	}
	write("usr/bin/kubelet", bin, 0o755)
	write("usr/lib/extension-release.d/extension-release."+name, []byte(fmt.Sprintf("ID=%s\nVERSION_ID=%s\n", osID, versionID)), 0o644)
	write("usr/lib/systemd/system/kubelet.service", []byte(`[Unit]
Description=kubelet: The Kubernetes Node Agent (kubebake boot test's system extension)
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`), 0o644)
	write("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", []byte(`# As the bakery's: kubeadm's drop-in with its own command line.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=`+SysextDropinExecStart+` $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`), 0o644)
	write("usr/lib/systemd/system/multi-user.target.d/10-kubelet-service.conf", []byte("[Unit]\nUpholds=kubelet.service\n"), 0o644)
	out := filepath.Join(dir, name+".raw")
	if b, err := exec.Command("mksquashfs", tree, out, "-all-root", "-noappend", "-quiet", "-no-progress").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// osRelease reads ID and VERSION_ID of the image's os-release.
func osRelease(t testing.TB, root string) (id, versionID string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "usr/lib/os-release"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			versionID = v
		}
	}
	if id == "" || versionID == "" {
		t.Fatalf("%s/usr/lib/os-release names no ID or VERSION_ID", root)
	}
	return id, versionID
}
