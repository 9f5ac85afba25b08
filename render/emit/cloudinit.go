package emit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"path"
	"strings"

	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"sigs.k8s.io/yaml"
)

var cloudInitEmitter = Emitter{
	FormatInfo: spec.FormatInfo{Name: "cloud-init", Ext: ".yaml", Gzip: true, Merge: true, UserData: true},
	Emit: func(in Input) (Doc, error) {
		if in.Plan.User == nil {
			return cloudInitDoc(in.Plan)
		}
		return whole(CloudInitMerged(in.Plan))
	},
}

// The #cloud-config document, typed.
type cloudConfig struct {
	// Hostname: cloud-init's set_hostname runs after write_files and would
	// replace /etc/hostname with the datasource's name. A name with dots is
	// given as the fqdn too, and preferred: cloud-init would otherwise set
	// only its first label, and the Node be named differently than with
	// Ignition.
	Hostname   string `json:"hostname,omitempty"`
	FQDN       string `json:"fqdn,omitempty"`
	PreferFQDN bool   `json:"prefer_fqdn_over_hostname,omitempty"`
	// Bootcmd runs before write_files: it makes the token's directory 0700
	// (write_files writes a file 0644 and chmods it after).
	Bootcmd    [][]string  `json:"bootcmd,omitempty"`
	WriteFiles []cloudFile `json:"write_files"`
	// Runcmd entries are either a string (run by sh) or a list (exec'd).
	Runcmd []any `json:"runcmd,omitempty"`
}

type cloudFile struct {
	Path        string `json:"path"`
	Permissions string `json:"permissions"`
	Owner       string `json:"owner"`
	Encoding    string `json:"encoding,omitempty"`
	Content     string `json:"content"`
}

// cloudInitGzipOver is the size above which a text file is written gzipped:
// it keeps user-data small (EC2 allows 16 KB) while short files stay readable.
const cloudInitGzipOver = 512

// CloudInit emits the plan as #cloud-config: write_files lays the files and
// units down, runcmd enables the units and starts them in the plan's order.
// runcmd is one shell script, run with `set -e` so that a failed step stops
// it and marks cloud-final failed. The join is queued last with --no-block:
// runcmd does not wait minutes for a control plane, a first attempt that
// fails does not fail cloud-init, and the kubelet, which the join starts,
// is never restarted under it.
func CloudInit(p *plan.Plan) ([]byte, error) {
	doc, err := cloudInitDoc(p)
	if err != nil {
		return nil, err
	}
	return doc.Bytes()
}

// CloudInitMerged is the plan's #cloud-config and the user's config (p.User)
// as one MIME multipart.
func CloudInitMerged(p *plan.Plan) ([]byte, error) {
	out, err := CloudInit(p)
	if err != nil {
		return nil, err
	}
	return mergeCloudInit(p, out)
}

// cloudInitDoc is the #cloud-config with placeholders for large values.
func cloudInitDoc(p *plan.Plan) (Doc, error) {
	// cloud-init's write_files verifies nothing: kubebake-join fetches a
	// stock image's downloads and checks their hashes before the join.
	p, err := p.ByAgent()
	if err != nil {
		return Doc{}, err
	}
	cc := cloudConfig{Hostname: p.Hostname}
	if strings.Contains(p.Hostname, ".") {
		cc.FQDN, cc.PreferFQDN = p.Hostname, true
	}
	for _, d := range p.PrivateDirs() {
		cc.Bootcmd = append(cc.Bootcmd, []string{"mkdir", "-p", "-m", "0700", d}, []string{"chmod", "0700", d})
	}
	large := &largeValues{}
	for _, f := range p.Files {
		cf := cloudFile{Path: f.Path, Permissions: fmt.Sprintf("0%o", f.Mode.Perm()), Owner: "root:root"}
		switch {
		case f.Gzip != nil:
			cf.Encoding, cf.Content = "gz+b64", large.add(f.Gzip, false)
		case len(f.Contents) > cloudInitGzipOver:
			gz, err := gzipBytes(f.Contents)
			if err != nil {
				return Doc{}, err
			}
			cf.Encoding, cf.Content = "gz+b64", base64.StdEncoding.EncodeToString(gz)
		default:
			cf.Content = string(f.Contents)
		}
		cc.WriteFiles = append(cc.WriteFiles, cf)
	}
	var enable []string
	for _, u := range p.Units {
		if u.Contents != "" {
			cc.WriteFiles = append(cc.WriteFiles, unitFile(path.Join(plan.UnitDir, u.Name), u.Contents))
		}
		for _, d := range u.Dropins {
			cc.WriteFiles = append(cc.WriteFiles, unitFile(path.Join(plan.UnitDir, u.Name+".d", d.Name), d.Contents))
		}
		if u.Enabled {
			enable = append(enable, u.Name)
		}
	}
	if len(p.Units) > 0 {
		cc.Runcmd = append(cc.Runcmd, "set -e", []string{"systemctl", "daemon-reload"})
	}
	if len(enable) > 0 {
		cc.Runcmd = append(cc.Runcmd, append([]string{"systemctl", "enable"}, enable...))
	}
	for _, u := range p.Start {
		// restart, not start: the modules-load and sysctl services already
		// ran at boot before these files existed, and a runtime that is up
		// must pick up its new drop-in.
		cc.Runcmd = append(cc.Runcmd, []string{"systemctl", "restart", u})
	}
	if len(p.StartNoWait) > 0 {
		cc.Runcmd = append(cc.Runcmd, append([]string{"systemctl", "start", "--no-block"}, p.StartNoWait...))
	}
	out, err := yaml.Marshal(cc)
	if err != nil {
		return Doc{}, err
	}
	head := "#cloud-config\n" + header(p)
	return Doc{Data: append([]byte(head), out...), large: large}, nil
}

func unitFile(p, contents string) cloudFile {
	return cloudFile{Path: p, Permissions: "0644", Owner: "root:root", Content: contents}
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
