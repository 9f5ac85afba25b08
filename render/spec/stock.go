package spec

import (
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/kubebake/kubebake/internal/fetch"
	"github.com/kubebake/kubebake/internal/inputs"
)

// A stock image (Fedora CoreOS, Flatcar as they ship) has no kubelet: the
// node downloads it, or a system extension holding it, and runs it only
// once its hash matched. These are the options' rules; the entries are in
// Options.

// Download is a file the node fetches at boot and verifies.
type Download struct {
	// Path is where it is installed; Mode its mode.
	Path string
	Mode os.FileMode
	// URL is http or https; Hash is sha512-HEX or sha256-HEX.
	URL, Hash string
	// Link is a symbolic link made to Path ("" none): a system
	// extension's /etc/extensions/NAME.raw.
	Link string
	// Sysext names the system extension ("" for a plain binary).
	Sysext string
}

// SysextDir and ExtensionsDir are where Flatcar lays system extensions
// down: the image in SysextDir/NAME/, a link to it in ExtensionsDir.
const (
	SysextDir     = "/opt/extensions"
	ExtensionsDir = "/etc/extensions"
)

// MaxKubeletFile caps --kubelet-file (a kubelet is ~100 MB).
const MaxKubeletFile = 1 << 30

// stockSpec checks the stock-image options and sets s.Downloads and
// s.KubeletFile.
func stockSpec(s *Spec, in Inputs) error {
	for _, b := range []struct {
		name, urlFlag, hashFlag, url, hash, path string
	}{
		{"kubelet", "--kubelet-url", "--kubelet-hash", in.KubeletURL, in.KubeletHash, s.KubeletPath},
		{"cri-dockerd", "--cri-dockerd-url", "--cri-dockerd-hash", in.CRIDockerdURL, in.CRIDockerdHash, s.CRIDockerdPath},
	} {
		if b.url == "" {
			if b.hash != "" {
				return inputs.Errorf(b.hashFlag, "only with %s (the URL the hash is of)", b.urlFlag)
			}
			continue
		}
		if _, err := fetch.ParseURL(b.url); err != nil {
			return inputs.Errorf(b.urlFlag, "%v", err)
		}
		if b.hash == "" {
			return inputs.Errorf(b.urlFlag, "needs %s %s: the node runs a download only once its hash matched (sha512sum %s, or dl.k8s.io's %s.sha512)", b.hashFlag, "sha512-HEX|sha256-HEX", b.name, b.name)
		}
		if _, err := fetch.ParseHash(b.hash); err != nil {
			return inputs.Errorf(b.hashFlag, "%v", err)
		}
		if b.name == "cri-dockerd" && s.Runtime != RuntimeDocker {
			return inputs.Errorf(b.urlFlag, "only with --runtime docker; with %s there is no cri-dockerd", s.Runtime)
		}
		s.Downloads = append(s.Downloads, Download{Path: b.path, Mode: 0o755, URL: b.url, Hash: b.hash})
	}
	names := map[string]bool{}
	for _, v := range in.Sysext {
		d, err := parseSysext(v)
		if err != nil {
			return inputs.Errorf("--sysext", "%v", err)
		}
		if names[d.Sysext] {
			return inputs.Errorf("--sysext", "two extensions named %s: each is /etc/extensions/NAME.raw", d.Sysext)
		}
		names[d.Sysext] = true
		s.Downloads = append(s.Downloads, d)
	}
	if in.KubeletFile != "" {
		if s.Format != "tar" {
			return inputs.Errorf("--kubelet-file", "only with --format tar (a golden image's layer); other outputs are user-data: give the node --kubelet-url and --kubelet-hash instead")
		}
		if in.KubeletURL != "" {
			return inputs.Errorf("--kubelet-file", "and --kubelet-url both give the kubelet; keep one")
		}
		data, err := readLarge(in.KubeletFile, MaxKubeletFile)
		if err != nil {
			return inputs.Errorf("--kubelet-file", "%v", err)
		}
		s.KubeletFile = data
	}
	if len(s.Downloads) > 0 && s.JoinBinary == JoinNone && !s.Info().RemoteFiles {
		return inputs.Errorf("--join-binary", "none: with --format %s nothing on the node verifies a download (cloud-init's write_files has no hash): kubebake-join fetches and verifies it before the join; use --join-binary embedded or baked, or --format ignition or butane", s.Format)
	}
	return nil
}

// extensionName is the NAME of a bakery file name NAME-vVERSION-ARCH.raw.
var extensionName = regexp.MustCompile(`^([A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*?)(?:-v?[0-9].*)?\.raw$`)

// parseSysext reads URL=HASH (split at the last "=").
func parseSysext(v string) (Download, error) {
	i := strings.LastIndex(v, "=")
	if i < 0 {
		return Download{}, fmt.Errorf("%q: want URL=HASH, e.g. https://extensions.flatcar.org/extensions/kubernetes-v1.37.2-x86-64.raw=sha256-HEX", v)
	}
	url, hash := v[:i], v[i+1:]
	u, err := fetch.ParseURL(url)
	if err != nil {
		return Download{}, err
	}
	if _, err := fetch.ParseHash(hash); err != nil {
		return Download{}, fmt.Errorf("%s: %v", url, err)
	}
	file := path.Base(u.Path)
	m := extensionName.FindStringSubmatch(file)
	if m == nil {
		return Download{}, fmt.Errorf("%s: the file name %q is not NAME.raw or NAME-vVERSION-ARCH.raw (as the sysext bakery names its images): systemd-sysext needs a .raw image whose NAME matches its extension-release.NAME", url, file)
	}
	name := m[1]
	return Download{Path: path.Join(SysextDir, name, file), Mode: 0o644, URL: url, Hash: hash,
		Link: path.Join(ExtensionsDir, name+".raw"), Sysext: name}, nil
}

// readLarge reads a file of at most max bytes.
func readLarge(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, inputs.FileError(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, max>>20)
	}
	return data, nil
}
