#!/usr/bin/env bash
# notebooks/run.sh: install what the notebooks need (Jupyter from Debian packages, the GoNB kernel,
# goimports) and execute every notebook headlessly, failing on any cell error.
#
# Every install step is skipped when it is already done, so a second run only executes notebooks.
#
# Environment (all optional):
#   NOTEBOOK_DIR           directory whose *.ipynb are executed (default: this script's directory)
#   NOTEBOOK_MODE          check   = execute into a scratch dir, leave the notebooks untouched (default)
#                          inplace = execute and save the outputs back into each notebook
#   NOTEBOOK_CELL_TIMEOUT  seconds one cell may run before the notebook fails (default 600)
#   NOTEBOOK_MAX_BYTES     largest allowed executed notebook, in bytes (default 1000000)
#   NOTEBOOK_KEEP          directory to copy the executed notebooks into in check mode (default: none)
#   LEND_TOOLS_BIN         where gonb and goimports are installed (default: $(go env GOPATH)/bin)
#   LEND_ROOT              the lend module the notebooks build against (default: this repository)
set -euo pipefail

# Pinned tool versions. GoNB is built from a temporary module because `go install gonb@version`
# reads the module proxy's list endpoint, which is refused here.
readonly GONB_MODULE=github.com/janpfeifer/gonb
readonly GONB_VERSION=v0.11.1
readonly XTOOLS_MODULE=golang.org/x/tools
readonly XTOOLS_VERSION=v0.52.0
# Debian packages: nbconvert executes notebooks through nbclient and jupyter_client. ipykernel
# is not needed to run Go notebooks, but it is part of the set issue 8 names as known to work and
# the jupyter-notebook UI needs it, so a machine set up here can also open the notebooks.
readonly APT_PACKAGES=(jupyter-nbconvert jupyter-client python3-nbclient python3-ipykernel)
# The Debian interpreter, never whatever python3 comes first in PATH (pyenv shims, venvs):
# the Jupyter modules live in Debian's dist-packages.
readonly PY=/usr/bin/python3

readonly DEFAULT_CELL_TIMEOUT_SECONDS=600
readonly KERNEL_STARTUP_TIMEOUT_SECONDS=120
readonly DEFAULT_MAX_NOTEBOOK_BYTES=1000000

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LEND_ROOT=${LEND_ROOT:-$(cd "$here/.." && pwd)}
NOTEBOOK_DIR=$(cd "${NOTEBOOK_DIR:-$here}" && pwd)
NOTEBOOK_MODE=${NOTEBOOK_MODE:-check}
NOTEBOOK_CELL_TIMEOUT=${NOTEBOOK_CELL_TIMEOUT:-$DEFAULT_CELL_TIMEOUT_SECONDS}
NOTEBOOK_MAX_BYTES=${NOTEBOOK_MAX_BYTES:-$DEFAULT_MAX_NOTEBOOK_BYTES}
case "$NOTEBOOK_MODE" in
check | inplace) ;;
*)
	echo "notebooks: NOTEBOOK_MODE must be check or inplace, got \"$NOTEBOOK_MODE\"" >&2
	exit 2
	;;
esac

log() { printf 'notebooks: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
# now prints seconds since the epoch with milliseconds, for per-notebook timings.
now() { date +%s.%3N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

command -v go >/dev/null || die "go is not in PATH; install Go $(sed -n 's/^go //p' "$LEND_ROOT/go.mod") first"
[ -f "$LEND_ROOT/go.mod" ] || die "LEND_ROOT=$LEND_ROOT has no go.mod"

# The kernel inherits this environment: it must find goimports in PATH, must resolve go.work
# files (GOWORK unset means "look for go.work"), and must use the same module cache and proxy
# as this script so nothing is downloaded twice.
unset GOWORK

export GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)}
export GOPROXY=${GOPROXY:-$(go env GOPROXY)}
TOOLS_BIN=${LEND_TOOLS_BIN:-$(go env GOPATH)/bin}
mkdir -p "$TOOLS_BIN"
export PATH="$TOOLS_BIN:$PATH"

# run_quiet runs a command with its output in a log file, shown only when it fails.
run_quiet() {
	local out
	out=$(mktemp)
	if ! "$@" >"$out" 2>&1; then
		cat "$out" >&2
		rm -f "$out"
		log "failed: $*"
		return 1
	fi
	rm -f "$out"
}

# --- 1. Jupyter from Debian packages ---------------------------------------------------------
install_jupyter() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return
	fi
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install Jupyter nbconvert and nbclient by hand"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing ${missing[*]}: run as root or install them"
		sudo=(sudo)
	fi
	local t0
	t0=$(now)
	log "installing ${missing[*]} (Debian packages)"
	# apt-get update only when the package lists do not know the packages yet (fresh image).
	if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
		run_quiet "${sudo[@]}" apt-get update -q
	fi
	# --no-install-recommends: nbconvert recommends pandoc and TeX, hundreds of MB not needed
	# to execute a notebook.
	run_quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	log "Jupyter installed in $(elapsed "$t0")s"
}

# --- 2. GoNB and goimports ---------------------------------------------------------------------
# has_module_version reports whether binary $1 was built with module $2 at version $3.
has_module_version() {
	[ -x "$1" ] && go version -m "$1" 2>/dev/null |
		awk -v m="$2" -v v="$3" '($1 == "mod" || $1 == "dep") && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

install_gonb() {
	local bin=$TOOLS_BIN/gonb
	if has_module_version "$bin" "$GONB_MODULE" "$GONB_VERSION"; then
		return
	fi
	local t0 tmp
	t0=$(now)
	log "building GoNB $GONB_VERSION into $bin"
	tmp=$(mktemp -d)
	(
		cd "$tmp"
		export GOWORK=off
		run_quiet go mod init lend.local/gonb-build
		run_quiet go get "$GONB_MODULE@$GONB_VERSION"
		run_quiet go build -o "$bin.tmp" "$GONB_MODULE"
	) || {
		rm -rf "$tmp"
		die "could not build GoNB $GONB_VERSION"
	}
	rm -rf "$tmp"
	mv -f "$bin.tmp" "$bin"
	log "GoNB built in $(elapsed "$t0")s"
}

install_goimports() {
	local bin=$TOOLS_BIN/goimports
	if has_module_version "$bin" "$XTOOLS_MODULE" "$XTOOLS_VERSION"; then
		return
	fi
	local t0
	t0=$(now)
	log "installing goimports ($XTOOLS_MODULE $XTOOLS_VERSION)"
	(cd / && GOBIN="$TOOLS_BIN" GOWORK=off run_quiet go install "$XTOOLS_MODULE/cmd/goimports@$XTOOLS_VERSION") ||
		die "could not install goimports"
	log "goimports installed in $(elapsed "$t0")s"
}

# install_kernel registers GoNB with Jupyter unless the registered kernel already runs our binary.
install_kernel() {
	local spec
	spec=${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/gonb/kernel.json
	# gonb --install writes one line of JSON; its argv starts with the binary and --kernel.
	if [ -f "$spec" ] && grep -qF "\"argv\":[\"$TOOLS_BIN/gonb\",\"--kernel\",\"{connection_file}\"" "$spec"; then
		return
	fi
	log "registering the GoNB kernel"
	# --force_deps: GoNB insists on gopls, which only serves completion and hover in an
	# interactive notebook; executing cells needs goimports alone.
	# Add no logging flag here: GoNB copies them into the kernel's argv (it always adds
	# --logtostderr, klog's default); the kernel's log is kept and shown only on failure.
	run_quiet "$TOOLS_BIN/gonb" --install --force_deps || die "gonb --install failed"
}

install_jupyter
install_gonb
install_goimports
install_kernel

# --- 3. Execute ---------------------------------------------------------------------------------

# check_outputs fails when an executed notebook holds a failed cell, printing what failed.
# nbconvert runs with --allow-errors so that a failed notebook is still written: GoNB puts compiler
# and `go get` messages only in an HTML output, which is turned back into text here. It also
# catches what nbconvert cannot: GoNB v0.11.1 reports a Go program that panics or exits non-zero,
# and a failing `!` shell command, only as "exit status N" (or "signal: ...") on the cell's stderr
# with an "ok" reply.
check_outputs() {
	"$PY" - "$1" <<'PYEOF'
import html, json, re, sys

failed_exit = re.compile(r"^(\^C\n)?(exit status [0-9]+|signal: .+)$", re.M)


def text_of(value):
    return value if isinstance(value, str) else "".join(value)


def html_to_text(h):
    h = re.sub(r"(?s)<style>.*?</style>", "", h)
    t = html.unescape(re.sub(r"<[^>]+>", "", h))
    return "\n".join(line.rstrip() for line in t.splitlines() if line.strip())


nb = json.load(open(sys.argv[1]))
failed = 0
for i, cell in enumerate(nb["cells"], start=1):
    if cell["cell_type"] != "code":
        continue
    problem, details = False, []
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "error":
            problem = True
            details.append(out["ename"] + ": " + out["evalue"])
        elif kind == "stream" and out["name"] == "stderr":
            text = text_of(out["text"])
            if failed_exit.search(text):
                problem = True
            details.append(text.strip())
        elif kind == "display_data" and "gonb-err" in text_of(out.get("data", {}).get("text/html", "")):
            details.append(html_to_text(text_of(out["data"]["text/html"])))
    if problem:
        failed += 1
        lines = text_of(cell["source"]).strip().splitlines()
        source = "\n".join(lines[:10]) + ("\n[...]" if len(lines) > 10 else "")
        print(f"--- cell {i} failed:\n{source}\n--- its output:\n" + "\n".join(details)[-3000:], file=sys.stderr)
sys.exit(1 if failed else 0)
PYEOF
}

shopt -s nullglob
notebooks=("$NOTEBOOK_DIR"/*.ipynb)
if [ ${#notebooks[@]} -eq 0 ]; then
	log "no notebooks in $NOTEBOOK_DIR"
	exit 0
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
total0=$(now)
for nb in "${notebooks[@]}"; do
	name=$(basename "$nb")
	# record_timing=False: no per-cell timestamps, so re-saving an unchanged notebook is no diff.
	args=(--to notebook --execute
		--ExecutePreprocessor.kernel_name=gonb
		--ExecutePreprocessor.timeout="$NOTEBOOK_CELL_TIMEOUT"
		--ExecutePreprocessor.startup_timeout="$KERNEL_STARTUP_TIMEOUT_SECONDS"
		--ExecutePreprocessor.record_timing=False
		--allow-errors
		--log-level=WARN)
	if [ "$NOTEBOOK_MODE" = inplace ]; then
		args+=(--inplace)
		out=$nb
	else
		args+=(--output-dir "$scratch" --output "$name")
		out=$scratch/$name
	fi
	kernel_log=$scratch/$name.log
	t0=$(now)
	ok=1
	# The kernel runs in the notebook's directory (as under `jupyter notebook`), and its
	# log (GoNB logs every step to stderr) goes to a file shown only on failure.
	if ! (cd "$(dirname "$nb")" && "$PY" -m nbconvert "${args[@]}" "$nb") 2>"$kernel_log"; then
		ok=0
		# The kernel's log, then nbclient's error (the failing cell and GoNB's message), without
		# the Python stack between them, which is nbconvert's and says nothing about the cell.
		awk '/^Traceback \(most recent call last\):/ { skip = 1 } /^nbclient\.exceptions\./ { skip = 0 } !skip' \
			"$kernel_log" >&2
		log "FAIL $name after $(elapsed "$t0")s: the kernel or nbconvert failed (log above)"
	elif ! check_outputs "$out"; then
		ok=0
		log "FAIL $name after $(elapsed "$t0")s: a cell failed (cell and output above)"
	else
		size=$(stat -c %s "$out")
		if [ "$size" -gt "$NOTEBOOK_MAX_BYTES" ]; then
			ok=0
			log "FAIL $name: executed notebook is $size bytes, limit $NOTEBOOK_MAX_BYTES (shrink plots or outputs)"
		else
			log "ok   $name in $(elapsed "$t0")s ($size bytes)"
		fi
	fi
	[ $ok -eq 1 ] || failed+=("$name")
	if [ "$NOTEBOOK_MODE" = check ] && [ -n "${NOTEBOOK_KEEP:-}" ] && [ -f "$out" ]; then
		mkdir -p "$NOTEBOOK_KEEP"
		cp "$out" "$NOTEBOOK_KEEP/"
	fi
done
log "${#notebooks[@]} notebook(s) in $(elapsed "$total0")s"
if [ ${#failed[@]} -gt 0 ]; then
	die "failed: ${failed[*]}"
fi
