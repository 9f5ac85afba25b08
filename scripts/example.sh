#!/usr/bin/env bash
# Renders the sample worker configs from testdata's sample CA and token into
# out/: Ignition (Fedora CoreOS and Flatcar), Butane, cloud-init, the thin
# variants for 16 KB user-data, and the plan. Prints what it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build
mkdir -p out
chmod 600 testdata/token # git checks it out 0644; kubebake warns about a token file others can read
kb() { bin/kubebake render --ca testdata/ca.crt --token-file testdata/token --api-server 10.0.0.10:6443 "$@"; }
kb -o out/worker.ign
kb --variant flatcar --runtime containerd -o out/worker-flatcar.ign
kb --format butane -o out/worker.bu
kb --format cloud-init -o out/user-data
kb --join-binary baked -o out/worker-thin.ign
kb --join-binary baked --format cloud-init -o out/user-data-thin
kb --format plan -o out/plan.json
bin/kubebake join-binary --arch amd64 -o out/kubebake-join
echo "CA pin: $(bin/kubebake hash testdata/ca.crt)"
ls -l out/
echo "Inspect out/worker.bu or out/plan.json to see what a node gets."
