package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/kubebake/kubebake/internal/fetch"
	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/kubebake/kubebake/internal/options"
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

// stockSpec sets s.Downloads and s.KubeletFile from the stock-image
// options (the table checked them: the rules below).
func stockSpec(s *Spec, in Inputs) error {
	if in.KubeletURL != "" {
		s.Downloads = append(s.Downloads, Download{Path: s.KubeletPath, Mode: 0o755, URL: in.KubeletURL, Hash: in.KubeletHash})
	}
	if in.CRIDockerdURL != "" {
		s.Downloads = append(s.Downloads, Download{Path: s.CRIDockerdPath, Mode: 0o755, URL: in.CRIDockerdURL, Hash: in.CRIDockerdHash})
	}
	for _, v := range in.Sysext {
		d, _ := parseSysext(v)
		s.Downloads = append(s.Downloads, d)
	}
	if in.KubeletFile != "" {
		data, err := readLarge(in.KubeletFile, MaxKubeletFile)
		if err != nil {
			return inputs.Errorf("--kubelet-file", "%v", err)
		}
		s.KubeletFile = data
	}
	return nil
}

func validURL(v any) error {
	_, err := fetch.ParseURL(v.(string))
	return err
}

func validHash(v any) error {
	_, err := fetch.ParseHash(v.(string))
	return err
}

// validSysexts is --sysext's Validate: each URL=HASH, names distinct.
func validSysexts(v any) error {
	names := map[string]bool{}
	for _, e := range v.([]string) {
		d, err := parseSysext(e)
		if err != nil {
			return err
		}
		if names[d.Sysext] {
			return fmt.Errorf("two extensions named %s: each is /etc/extensions/NAME.raw", d.Sysext)
		}
		names[d.Sysext] = true
	}
	return nil
}

// needsHash is the rule of a download's URL option: the node runs a
// download only once its hash matched.
func needsHash(name, url, hash string) error {
	if url != "" && hash == "" {
		return fmt.Errorf("needs --%s-hash sha512-HEX|sha256-HEX: the node runs a download only once its hash matched (sha512sum %s, or dl.k8s.io's %s.sha512)", name, name, name)
	}
	return nil
}

// hashNeedsURL is the rule of a download's hash option.
func hashNeedsURL(name, url, hash string) error {
	if hash != "" && url == "" {
		return fmt.Errorf("only with --%s-url (the URL the hash is of)", name)
	}
	return nil
}

func kubeletURLRule(in *Inputs, _ options.Given) error {
	return needsHash("kubelet", in.KubeletURL, in.KubeletHash)
}

func kubeletHashRule(in *Inputs, _ options.Given) error {
	return hashNeedsURL("kubelet", in.KubeletURL, in.KubeletHash)
}

func criDockerdURLRule(in *Inputs, _ options.Given) error {
	if err := needsHash("cri-dockerd", in.CRIDockerdURL, in.CRIDockerdHash); err != nil {
		return err
	}
	if in.CRIDockerdURL != "" && Runtime(in.Runtime) != RuntimeDocker {
		return fmt.Errorf("only with --runtime docker; with %s there is no cri-dockerd", in.Runtime)
	}
	return nil
}

func criDockerdHashRule(in *Inputs, _ options.Given) error {
	return hashNeedsURL("cri-dockerd", in.CRIDockerdURL, in.CRIDockerdHash)
}

// kubeletFileRule: --kubelet-file is a tar layer's kubelet, the one way
// of giving it.
func kubeletFileRule(in *Inputs, _ options.Given) error {
	switch {
	case in.KubeletFile == "":
		return nil
	case in.Format != "tar":
		return errors.New("only with --format tar (a golden image's layer); other outputs are user-data: give the node --kubelet-url and --kubelet-hash instead")
	case in.KubeletURL != "":
		return errors.New("and --kubelet-url both give the kubelet; keep one")
	}
	return nil
}

// joinBinaryRule: with --join-binary none, a download is verified only by
// a consumer that checks hashes itself (Ignition).
func joinBinaryRule(in *Inputs, _ options.Given) error {
	downloads := in.KubeletURL != "" || in.CRIDockerdURL != "" || len(in.Sysext) > 0
	if f, _ := LookupFormat(Format(in.Format)); downloads && JoinMode(in.JoinBinary) == JoinNone && !f.RemoteFiles {
		return fmt.Errorf("none: with --format %s nothing on the node verifies a download (cloud-init's write_files has no hash): kubebake-join fetches and verifies it before the join; use --join-binary embedded or baked, or --format ignition or butane", in.Format)
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
