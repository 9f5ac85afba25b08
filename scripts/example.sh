#!/usr/bin/env bash
# Renders the sample worker configs from testdata's sample CA and token into
# out/: Ignition (Fedora CoreOS and Flatcar), Butane, cloud-init, the thin
# variants for 16 KB user-data, the plan, and a small fleet of two pools
# (testdata/fleet/nodes.yaml) into out/fleet/. Prints what it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build
mkdir -p out
chmod 600 testdata/token testdata/fleet/pool-b.token # git checks them out 0644; kubebake warns about a token file others can read
kb() { bin/kubebake render --ca testdata/ca.crt --token-file testdata/token --api-server 10.0.0.10:6443 "$@"; }
kb -o out/worker.ign
kb --variant flatcar --runtime containerd -o out/worker-flatcar.ign
kb --format butane -o out/worker.bu
kb --format cloud-init -o out/user-data
kb --join-binary baked -o out/worker-thin.ign
kb --join-binary baked --format cloud-init -o out/user-data-thin
kb --format plan -o out/plan.json
kb --nodes testdata/fleet/nodes.yaml --out-dir out/fleet
bin/kubebake join-binary --arch amd64 -o out/kubebake-join
echo "CA pin: $(bin/kubebake hash testdata/ca.crt)"
ls -l out/ out/fleet/
echo "Inspect out/worker.bu or out/plan.json to see what a node gets, and out/fleet/index.json"
echo "for the fleet (two pools, each with its own token: bin/kubebake manifests --nodes"
echo "testdata/fleet/nodes.yaml --token-file testdata/token --ca testdata/ca.crt --api-server 10.0.0.10:6443"
echo "prints their Secrets)."
