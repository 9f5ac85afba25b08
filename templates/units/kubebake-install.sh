#!/bin/sh
# Rendered by kubebake: a cloud-init boothook that installs the files too
# large for the #cloud-config (the kubebake-join agent). A YAML parser reads
# a 4 MB string character by character, and cloud-init parses its
# cloud-config again in each stage and at every boot; a boothook's body is
# not parsed at all. cloud-init runs boothooks at every boot, before
# write_files: a file already in place with its hash is left alone.
set -eu
install_file() {
	path=$1 mode=$2 sum=$3
	if [ -f "$path" ] && printf '%s  %s\n' "$sum" "$path" | sha512sum -c --status; then
		cat >/dev/null
		return 0
	fi
	mkdir -p "${path%/*}"
	tmp=$(mktemp "$path.kubebake.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	base64 -d | gzip -dc >"$tmp"
	# Nothing runs unless its hash matched.
	if ! printf '%s  %s\n' "$sum" "$tmp" | sha512sum -c --status; then
		echo "kubebake: $path: the sha512 of what this user-data carries is not $sum" >&2
		exit 1
	fi
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$path"
	trap - EXIT
}
{{- range .Files}}
install_file {{.Path}} {{.Mode}} {{.SHA512}} <<'KUBEBAKE_END'
{{.Payload}}
KUBEBAKE_END
{{- end}}
