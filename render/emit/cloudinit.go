package emit

import (
	"encoding/base64"
	"fmt"
	"path"
	"strings"

	"github.com/kubebake/kubebake/internal/userdata"
	"github.com/kubebake/kubebake/render/cache"
	"github.com/kubebake/kubebake/render/plan"
	"github.com/kubebake/kubebake/render/spec"
	"github.com/kubebake/kubebake/templates"
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
	// (write_files writes a file 0644 and chmods it after), and queues the
	// start of the node's units (see startEarly).
	Bootcmd    [][]string  `json:"bootcmd,omitempty"`
	WriteFiles []cloudFile `json:"write_files"`
	// Runcmd starts the node's units where startEarly does not. Entries
	// are either a string (run by sh) or a list (exec'd).
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
// units down, and a service that systemd starts as soon as that is done
// (or runcmd: see startEarly) enables the units and starts them in the
// plan's order.
func CloudInit(p *plan.Plan) ([]byte, error) {
	doc, err := cloudInitDoc(p)
	if err != nil {
		return nil, err
	}
	return doc.Bytes()
}

// CloudInitMerged is the user's config (p.User) and the plan's parts (the
// #cloud-config and any boothook) as one MIME multipart.
func CloudInitMerged(p *plan.Plan) ([]byte, error) {
	cc, hook, err := cloudInitParts(p)
	if err != nil {
		return nil, err
	}
	var hookBytes []byte
	if hook != nil {
		if hookBytes, err = hook.Bytes(); err != nil {
			return nil, err
		}
	}
	return mergeCloudInit(p, ourParts(cc.Data, hookBytes))
}

// cloudInitDoc is the user-data with placeholders for large values: the
// #cloud-config alone, or, when the plan has large files (the embedded
// agent), a MIME multipart of the #cloud-config and the boothook that
// installs them (see installHook).
func cloudInitDoc(p *plan.Plan) (Doc, error) {
	cc, hook, err := cloudInitParts(p)
	if err != nil || hook == nil {
		return cc, err
	}
	mime, err := userdata.Write(ourParts(cc.Data, hook.Data))
	if err != nil {
		return Doc{}, err
	}
	return Doc{Data: mime, large: hook.large}, nil
}

// ourParts are the MIME parts of kubebake's user-data: the #cloud-config,
// then the boothook, if any.
func ourParts(cloudConfig, hook []byte) []userdata.Part {
	parts := []userdata.Part{{ContentType: "text/cloud-config", Filename: "kubebake.cfg", MergeType: cloudInitMergeType, Body: cloudConfig}}
	if hook != nil {
		parts = append(parts, userdata.Part{ContentType: "text/cloud-boothook", Filename: "kubebake-install.sh", Body: hook})
	}
	return parts
}

// cloudInitParts are the #cloud-config, and the boothook installing the
// plan's large files or nil, each with placeholders for large values.
func cloudInitParts(p *plan.Plan) (_ Doc, hook *Doc, err error) {
	// cloud-init's write_files verifies nothing: kubebake-join fetches a
	// stock image's downloads and checks their hashes before the join.
	p, err = p.ByAgent()
	if err != nil {
		return Doc{}, nil, err
	}
	cc := cloudConfig{Hostname: p.Hostname}
	if strings.Contains(p.Hostname, ".") {
		cc.FQDN, cc.PreferFQDN = p.Hostname, true
	}
	for _, d := range p.PrivateDirs() {
		cc.Bootcmd = append(cc.Bootcmd, []string{"mkdir", "-p", "-m", "0700", d}, []string{"chmod", "0700", d})
	}
	var largeFiles []plan.File
	for _, f := range p.Files {
		cf := cloudFile{Path: f.Path, Permissions: fmt.Sprintf("0%o", f.Mode.Perm()), Owner: "root:root"}
		switch {
		case f.Gzip != nil:
			largeFiles = append(largeFiles, f)
			continue
		case len(f.Contents) > cloudInitGzipOver:
			gz, err := gzipBase64(p, f.Contents)
			if err != nil {
				return Doc{}, nil, err
			}
			cf.Encoding, cf.Content = "gz+b64", gz
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
	switch script := startScript(p, enable); {
	case len(script) == 0:
	case startEarly(p):
		cc.Bootcmd = append(cc.Bootcmd, startCommand(script))
	default:
		cc.Runcmd = append(cc.Runcmd, "set -e")
		for _, argv := range script {
			cc.Runcmd = append(cc.Runcmd, argv)
		}
	}
	out, err := yaml.Marshal(cc)
	if err != nil {
		return Doc{}, nil, err
	}
	head := "#cloud-config\n" + header(p)
	doc := Doc{Data: append([]byte(head), out...)}
	if len(largeFiles) == 0 {
		return doc, nil, nil
	}
	h, err := installHook(largeFiles)
	return doc, &h, err
}

// startDone is the file the last step of the transient service that
// starts the node's units (userdata.StartUnit) writes: in cloud-init's directory of the instance, so that a new
// instance (an image cloned, `cloud-init clean`) starts its units again.
const startDone = "/var/lib/cloud/instance/sem/kubebake_start"

// startScript is what starts the node's units: reload systemd, enable
// the units, (re)start them in the plan's order, the join last with
// --no-block: a join that waits minutes for a control plane holds up
// nothing, and the kubelet, which the join starts, is never restarted
// under it.
func startScript(p *plan.Plan, enable []string) [][]string {
	var script [][]string
	if len(p.Units) > 0 {
		script = append(script, []string{"systemctl", "daemon-reload"})
	}
	if len(enable) > 0 {
		script = append(script, append([]string{"systemctl", "enable"}, enable...))
	}
	for _, u := range p.Start {
		// restart, not start: the modules-load and sysctl services already
		// ran at boot before these files existed, and a runtime that is up
		// must pick up its new drop-in.
		script = append(script, []string{"systemctl", "restart", u})
	}
	if len(p.StartNoWait) > 0 {
		script = append(script, append([]string{"systemctl", "start", "--no-block"}, p.StartNoWait...))
	}
	return script
}

// startEarly says whether the node's units start as soon as cloud-init's
// init stage has written the files, rather than in runcmd.
//
// runcmd runs in cloud-init's last stage, after multi-user.target and two
// more Python processes (its config and final stages), where everything
// the units need was in place at the end of its first network stage: the
// boot tier measured the join started 24-35 s after multi-user.target
// under emulation. So a node's first boot gets startCommand instead. Not
// so for an image part, which an image build captures once cloud-init
// says it is done (`cloud-init status --wait`), which must be after the
// units are enabled; nor with a config of the user's merged in, whose
// packages and runcmd (cloud-init's final stage) may install or prepare
// what the units need, and ran before kubebake's start: runcmd keeps
// both, and reports a failed step in cloud-init's status.
func startEarly(p *plan.Plan) bool {
	return p.Spec.Part != spec.PartImage && p.User == nil
}

// startCommand is the bootcmd entry that asks systemd for a service,
// kubebake-start, that runs script (`sh -e`) once cloud-init's network
// stage is done (cloud-init.service, cloud-init-network.service from
// cloud-init 24.3 on), and then writes startDone. bootcmd runs at every
// boot: the request is made until startDone exists, so a boot that ends
// before the service ran (a reboot, a power loss) or a step that failed is
// tried again at the next boot; a failed step leaves the service failed
// (`systemctl status kubebake-start`).
func startCommand(script [][]string) []string {
	lines := make([]string, 0, len(script)+1)
	for _, argv := range script {
		lines = append(lines, userdata.ShellJoin(argv))
	}
	lines = append(lines, userdata.ShellJoin([]string{"touch", startDone}))
	return []string{"sh", "-c", userdata.StartGuard, startDone,
		"systemd-run", "--no-block", "--unit=" + userdata.StartUnit,
		"--description=kubebake: enable and start the node's units", "--property=Type=oneshot",
		"--property=After=cloud-init.service", "--property=After=cloud-init-network.service",
		"/bin/sh", "-ec", strings.Join(lines, "\n")}
}

// installHook is the cloud-init boothook that installs files, each carried
// as wrapped base64 of its gzip in a here-document and checked against its
// SHA-512 before it is made executable and moved into place.
//
// Why not write_files: cloud-init's YAML parser is pure Python and reads a
// scalar character by character. The 4 MB agent in the #cloud-config took
// it 5 s to parse on a quick machine, minutes under emulation, and
// cloud-init parses the cloud-config in its init, config and final stages,
// again at every boot. A boothook is a MIME part cloud-init writes out and
// runs without reading it; it runs in the init stage, before write_files
// and runcmd, at every boot (an installed file with the right hash is left
// as it is).
func installHook(files []plan.File) (Doc, error) {
	type hookFile struct{ Path, Mode, SHA512, Payload string }
	var data struct{ Files []hookFile }
	large := &largeValues{}
	for _, f := range files {
		if !spec.SafePath(f.Path) || len(f.SHA512) != 128 {
			return Doc{}, fmt.Errorf("internal error: %s cannot go into the install boothook", f.Path)
		}
		data.Files = append(data.Files, hookFile{Path: f.Path, Mode: fmt.Sprintf("0%o", f.Mode.Perm()), SHA512: f.SHA512, Payload: large.addWrapped(f.Gzip)})
	}
	hook, err := templates.Execute(installHookTemplate, data)
	if err != nil {
		return Doc{}, err
	}
	return Doc{Data: []byte(hook), large: large}, nil
}

// installHookTemplate is the boothook's template (templates/units).
const installHookTemplate = "kubebake-install.sh"

func unitFile(p, contents string) cloudFile {
	return cloudFile{Path: p, Permissions: "0644", Owner: "root:root", Content: contents}
}

// gzipBase64 is contents as write_files' gz+b64 content: made once per
// cache (the CA bundle and the runtime's config are every node's), and a
// node's own (its kubelet config with its taints and max-pods) with a
// reused compressor.
func gzipBase64(p *plan.Plan, contents []byte) (string, error) {
	var c *cache.Cache
	if p.Spec != nil {
		c = p.Spec.Cache()
	}
	return cache.Get(c, "gz+b64", string(contents), maxShapes*16, func() (string, error) {
		gz, err := gzipBytes(contents)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(gz), nil
	})
}
