package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kubebake/kubebake/internal/discovery"
	"github.com/kubebake/kubebake/internal/joinconfig"
	"github.com/kubebake/kubebake/internal/status"
)

// statusClass names an exit status's class for status.json.
func statusClass(c discovery.Class) status.Class {
	switch c {
	case discovery.Refused:
		return status.Refused
	case discovery.Unproven:
		return status.Unproven
	case discovery.BadConfig:
		return status.BadConfig
	}
	return status.Transient
}

// final says the unit will not restart the agent after code
// (RestartPreventExitStatus=3 78).
func final(code int) bool { return code == int(discovery.Refused) || code == int(discovery.BadConfig) }

// progressTo feeds discovery's steps to the node's status.
func progressTo(rep *status.Reporter, logf func(string, ...any)) func(discovery.Progress) {
	return func(p discovery.Progress) {
		var err error
		switch p.Step {
		case discovery.StepWaitingForToken:
			trace("waiting-for-token")
			err = rep.Phase(status.WaitingForToken, "")
			trace("status-written")
		case discovery.StepDiscovering:
			trace("discovering")
			err = rep.Phase(status.Discovering, "")
			trace("status-written")
		case discovery.StepAttemptFailed:
			err = rep.Attempt(p.Endpoint, statusClass(p.Class), p.Err.Error())
		case discovery.StepVerified:
			trace("verified")
			err = rep.Phase(status.Verified, p.Endpoint)
			trace("status-written")
		}
		if err != nil {
			logf("writing %s: %v (the join goes on)", status.File, err)
		}
	}
}

const reportHelp = `Usage: kubebake-join report kubelet-started|joined [--root DIR]

Records a step of the join the agent itself does not see, for the units to
call: kubelet-started (the kubelet's drop-in, when it starts) and joined (the
cleanup unit, once the kubelet has its own kubeconfig: it also writes Cluster
API's /run/cluster-api/bootstrap-success.complete and says so on the console).
joined is refused (exit 1) while the kubelet's kubeconfig does not exist.
`

// runReport is ` + "`kubebake-join report STEP`" + `.
func runReport(args []string, stderr io.Writer) int {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "kubebake-join report: "+format+"\n", a...) }
	fs := flag.NewFlagSet("kubebake-join report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "prefix every path with `DIR`")
	fs.Usage = func() { fmt.Fprint(stderr, reportHelp); fs.PrintDefaults() }
	if len(args) == 0 {
		fs.Usage()
		return badConfig
	}
	step := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return badConfig
	}
	rep := status.Open(*root, status.Options{})
	var err error
	switch step {
	case "kubelet-started":
		if rep.Status().Phase == status.Joined {
			return 0 // a restart of a joined node's kubelet is no news
		}
		err = rep.Phase(status.KubeletStarted, "")
	case "joined":
		joined, jerr := discovery.Joined(*root, joinconfig.DefaultPaths())
		if jerr != nil || !joined {
			logf("%s does not exist: the kubelet has no credentials of its own yet", joinconfig.DefaultKubeletKubeconfig)
			return 1
		}
		err = rep.Joined()
	case "-h", "--help", "help":
		fs.Usage()
		return 0
	default:
		logf("unknown step %q: want kubelet-started or joined", step)
		return badConfig
	}
	if err != nil {
		logf("%v", err)
		return 1
	}
	return 0
}
