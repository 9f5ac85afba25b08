package boottest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The probe: a unit of the test's layer that prints the machine's state to
// the second serial port (ttyS1) every few seconds, one line each time, as
// space-separated key=value words:
//
//	KBPROBE up=<s> state=<is-system-running> failed=<a,b> jobs=<n>
//	  mu=<µs multi-user.target was reached, 0 if not>
//	  ciinit.ActiveEnterTimestampMonotonic=<µs> ... (cloud-init's four stages done: cilocal, ciinit, ciconfig, cifinal)
//	  startruns=<times this boot ran kubebake-start.service>
//	  join.ActiveState=... join.Result=... join.ExecMainStatus=...
//	  join.ConditionResult=... join.ActiveEnterTimestampMonotonic=<µs> ...
//	  kubelet.ActiveState=... kubelet.ExecMainStartTimestampMonotonic=<µs> ...
//	  kubeconf=<s of uptime kubelet.conf was written, 0 if absent>
//	  kubeletcmd=<the running kubelet's argv, comma-separated>
//	  kubeletexec=<kubelet.service's effective ExecStart argv, comma-separated>
//	  sysext=<the extensions merged over /usr> watch:<path>=<yes|no> ...
//	  tokenfiles=<files the plan wrote the token to that still exist>
//	  jphase=<status.json's phase> jclass=<its class> jfinal=<true|false>
//	  sentinel=<Cluster API's bootstrap-success.complete> failmark=<yes|no>
//	  scan=<pending|done> tokenscan=<files holding the token, cloud-init's aside>
//	  cloudcopies=<cloud-init's: under /var/lib/cloud and /run/cloud-init> END
//
// The token scan greps for "<token id>.<16 token characters>": the id is no
// secret, so the probe holds none. It runs once, when the kubelet has its
// kubeconfig and the cleanup service has run, and again whenever a new scan
// is asked for by a boot (each boot scans once). When kubebake-join has
// ended (failed or succeeded), its journal follows once as KBJOURNAL lines;
// the lines of kubebake-join fetch (its ExecStartPre=) follow as they come.
// The paths listed in /etc/kubebake-probe.watch (AddWatch) are reported as
// present or not.
const probeScript = `#!/bin/sh
# kubebake boot tier probe: the machine's state on ttyS1 (see test/boottest).
tokid=$1; shift
out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null || true
scanned=
journaled=
fetchlines=0
show() { # show PREFIX UNIT PROPS...
  p=$1; u=$2; shift 2
  for k in "$@"; do set -- "$@" -p "$k"; shift; done
  systemctl show "$@" "$u" 2>/dev/null | sed "s/^/$p./" | tr ' ' '_' | paste -sd' ' -
}
joinprops="ActiveState SubState Result ExecMainStatus NRestarts ConditionResult ActiveEnterTimestampMonotonic ExecMainStartTimestampMonotonic InactiveExitTimestampMonotonic"
while :; do
  up=$(cut -d' ' -f1 /proc/uptime)
  state=$(systemctl is-system-running 2>/dev/null)
  failed=$(systemctl list-units --failed --plain --no-legend --no-pager 2>/dev/null | awk '{print $1}' | paste -sd, -)
  jobs=$(systemctl list-jobs --no-legend --no-pager 2>/dev/null | wc -l)
  mu=$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
  kubeconf=0
  if [ -e /etc/kubernetes/kubelet.conf ]; then
    m=$(stat -c %Y /etc/kubernetes/kubelet.conf); now=$(date +%s)
    kubeconf=$(awk -v u="$up" -v m="$m" -v n="$now" 'BEGIN { printf "%.1f", u - (n - m) }')
  fi
  tokenfiles=
  for f in "$@"; do [ -e "$f" ] && tokenfiles="$tokenfiles,$f"; done
  tokenfiles=${tokenfiles#,}
  if [ -z "$scanned" ] && [ "$kubeconf" != 0 ] && [ "$(systemctl show -p ActiveState --value kubebake-cleanup.service)" = active ]; then
    pat="$tokid\.[a-z0-9]{16}"
    tokenscan=$(grep -rlsE --exclude-dir=cloud --exclude-dir=cloud-init "$pat" /etc /var /opt /usr/local /root /run /home /srv /tmp 2>/dev/null | paste -sd, -)
    cloudcopies=$(grep -rlsE "$pat" /var/lib/cloud /run/cloud-init 2>/dev/null | paste -sd, -)
    scanned="scan=done tokenscan=$tokenscan cloudcopies=$cloudcopies"
  fi
  # kubebake-join fetch's lines as they come (the join may retry for long).
  n=$(journalctl -b -u kubebake-join.service -o cat --no-pager 2>/dev/null | grep -c '^kubebake-join fetch: ')
  if [ "$n" -gt "$fetchlines" ]; then
    journalctl -b -u kubebake-join.service -o cat --no-pager 2>/dev/null | grep '^kubebake-join fetch: ' | tail -n +$((fetchlines+1)) | sed 's/^/KBJOURNAL /' >$out
    fetchlines=$n
  fi
  kpid=$(systemctl show -p MainPID --value kubelet.service)
  kubeletcmd=
  if [ -n "$kpid" ] && [ "$kpid" != 0 ]; then kubeletcmd=$(tr '\0 ' ',_' </proc/$kpid/cmdline 2>/dev/null); fi
  kubeletexec=$(systemctl show -p ExecStart --value kubelet.service 2>/dev/null | sed -n 's/.*argv\[\]=\([^;]*\) ;.*/\1/p' | head -1 | tr ' ' ',')
  sysext=$(systemd-sysext status --no-legend 2>/dev/null | awk '$1 == "/usr" { print $2 }')
  watch=
  if [ -r /etc/kubebake-probe.watch ]; then
    while read -r w; do
      [ -n "$w" ] || continue
      if [ -e "$w" ]; then watch="$watch watch:$w=yes"; else watch="$watch watch:$w=no"; fi
    done </etc/kubebake-probe.watch
  fi
  # How often this boot ran cloud-init's kubebake-start.service (transient).
  startruns=$(journalctl -b -u kubebake-start.service -o cat --no-pager 2>/dev/null | grep -c '^Starting kubebake-start.service')
  startdone=no; [ -e /var/lib/cloud/instance/sem/kubebake_start ] && startdone=yes
  j=$(systemctl show -p ActiveState --value kubebake-join.service)
  if [ -z "$journaled" ] && { [ "$j" = failed ] || [ "$j" = active ]; }; then
    journalctl -b -u kubebake-join.service -o cat --no-pager 2>/dev/null | sed 's/^/KBJOURNAL /' >$out
    journaled=1
  fi
  # The node's own account of its join (internal/status).
  jphase=$(sed -n 's/^  "phase": "\(.*\)",*$/\1/p' /run/kubebake/status.json 2>/dev/null)
  jclass=$(sed -n 's/^  "class": "\(.*\)",*$/\1/p' /run/kubebake/status.json 2>/dev/null)
  jfinal=false; grep -qs '"final": true' /run/kubebake/status.json && jfinal=true
  sentinel=; [ -r /run/cluster-api/bootstrap-success.complete ] && sentinel=$(tr -d ' \n' </run/cluster-api/bootstrap-success.complete)
  failmark=no; [ -e /run/cluster-api/bootstrap-failure.kubebake ] && failmark=yes
  echo "KBPROBE up=$up state=$state failed=$failed jobs=$jobs mu=$mu $(show join kubebake-join.service $joinprops) $(show kubelet kubelet.service ActiveState Result ConditionResult ExecMainStartTimestampMonotonic NRestarts) $(show cilocal cloud-init-local.service ActiveEnterTimestampMonotonic) $(show ciinit cloud-init.service ActiveEnterTimestampMonotonic) $(show ciconfig cloud-config.service ActiveEnterTimestampMonotonic) $(show cifinal cloud-final.service ActiveEnterTimestampMonotonic) startruns=$startruns startdone=$startdone kubeconf=$kubeconf kubeletcmd=$kubeletcmd kubeletexec=$kubeletexec sysext=$sysext$watch tokenfiles=$tokenfiles jphase=$jphase jclass=$jclass jfinal=$jfinal sentinel=$sentinel failmark=$failmark ${scanned:-scan=pending} END" >$out
  sleep 3
done
`

const probeUnit = `[Unit]
Description=kubebake boot tier: print the machine's state on ttyS1

[Service]
ExecStart=/usr/local/sbin/kubebake-probe %s

[Install]
WantedBy=multi-user.target
`

// AddProbe puts the probe into the layer and enables it. tokenID is the
// bootstrap token's id (not its secret); tokenFiles are the paths the plan
// wrote the token to.
func (l *Layer) AddProbe(tokenID string, tokenFiles []string) {
	l.t.Helper()
	l.Write("/usr/local/sbin/kubebake-probe", []byte(probeScript), 0o755)
	args := append([]string{tokenID}, tokenFiles...)
	l.Write("/etc/systemd/system/kubebake-probe.service", []byte(fmt.Sprintf(probeUnit, strings.Join(args, " "))), 0o644)
	l.Symlink("/etc/systemd/system/kubebake-probe.service", "/etc/systemd/system/multi-user.target.wants/kubebake-probe.service")
}

// AddWatch makes the probe report whether each path exists.
func (l *Layer) AddWatch(paths ...string) {
	l.t.Helper()
	l.Write("/etc/kubebake-probe.watch", []byte(strings.Join(paths, "\n")+"\n"), 0o644)
}

// State is one probe line.
type State map[string]string

// Get returns a value ("" when absent).
func (s State) Get(k string) string { return s[k] }

// Float returns a number (0 when absent or not a number).
func (s State) Float(k string) float64 {
	f, _ := strconv.ParseFloat(s[k], 64)
	return f
}

// Seconds returns a monotonic timestamp in µs as seconds since boot.
func (s State) Seconds(k string) float64 { return s.Float(k) / 1e6 }

// List returns a comma-separated value as a list.
func (s State) List(k string) []string {
	if s[k] == "" {
		return nil
	}
	return strings.Split(s[k], ",")
}

func (s State) String() string {
	keys := []string{"up", "state", "failed", "jobs", "mu", "join.ActiveState", "join.SubState", "join.Result", "join.ExecMainStatus",
		"join.NRestarts", "join.ConditionResult", "kubelet.ActiveState", "kubelet.ConditionResult", "kubelet.NRestarts", "kubeconf", "kubeletcmd", "kubeletexec", "sysext", "tokenfiles", "scan", "tokenscan", "cloudcopies"}
	var b strings.Builder
	for _, k := range keys {
		if v, ok := s[k]; ok {
			fmt.Fprintf(&b, "%s=%s ", k, v)
		}
	}
	return strings.TrimSpace(b.String())
}

// readProbe returns the complete probe lines in file, in order, and the
// KBJOURNAL lines.
func readProbe(file string) (states []State, journal []string) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if j, ok := strings.CutPrefix(line, "KBJOURNAL "); ok {
			journal = append(journal, j)
			continue
		}
		rest, ok := strings.CutPrefix(line, "KBPROBE ")
		if !ok || !strings.HasSuffix(rest, " END") {
			continue
		}
		s := State{}
		for _, w := range strings.Fields(strings.TrimSuffix(rest, " END")) {
			k, v, _ := strings.Cut(w, "=")
			s[k] = v
		}
		states = append(states, s)
	}
	return states, journal
}
