#!/bin/sh
# run_in_env [COMMAND [ARGS...]]
#
# Runs COMMAND inside the conda environment this script lives in (its bin/ folder), the
# convention CCTools TaskVine and Work Queue workers use for Poncho tarballs: TaskVine's
# declare_poncho runs it once with no arguments (prepare only, exit 0), then
# `run_in_env CMD ...` for each task. Written by poncho-create.
#
# First use: under the lock PREFIX.poncho.lock (flock, the lock poncho_package_run takes on
# the same folder; the kernel drops it when its holder dies, so a killed task cannot wedge
# the others), it runs bin/conda-unpack once and records it in poncho/.unpacked. Each run
# then sets PATH, CONDA_PREFIX, CONDA_DEFAULT_ENV, PONCHO_PREFIX, unsets PYTHONPATH and
# PYTHONHOME, sources etc/conda/activate.d/*.sh and poncho/set_env (tarballs of older
# CCTools), and execs COMMAND. A folder poncho_package_run prepared is used through its
# state. When the spec names data (git/http), the run goes through poncho_package_run,
# which fetches it. $PONCHO_UNPACK_WAIT bounds the wait for the lock (default 300 s).

case "$0" in
    */*) script_dir=${0%/*} ;;
    *) script_dir=$(dirname -- "$(command -v -- "$0")") ;;
esac
prefix=$(cd -- "$script_dir/.." && pwd -P) || {
    echo "run_in_env: cannot find the environment of $0" >&2
    exit 1
}
wait=${PONCHO_UNPACK_WAIT:-300}
marker=$prefix/poncho/.unpacked

# Run "$@" holding the lock of the prefix (flock(1), else the environment's own python).
locked() {
    if command -v flock >/dev/null 2>&1; then
        flock -E 75 -w "$wait" "$prefix.poncho.lock" "$@"
    elif [ -x "$prefix/bin/python" ]; then
        "$prefix/bin/python" -E -s -c '
import fcntl, os, subprocess, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except BlockingIOError:
        if time.monotonic() > deadline:
            sys.exit(75)
        time.sleep(0.05)
sys.exit(subprocess.call(sys.argv[3:]))
' "$prefix.poncho.lock" "$wait" "$@"
    else
        "$@"
    fi
}

# The one-time preparation, under the lock (this script again, with an internal argument).
if [ "${1-}" = "--poncho-prepare-locked" ]; then
    if [ -e "$marker" ] || [ -f "$prefix/.poncho-run/state.json" ]; then
        exit 0
    fi
    # This process only prepares: its environment can be changed for conda-unpack.
    unset PYTHONPATH PYTHONHOME
    PATH="$prefix/bin${PATH:+:$PATH}"
    export PATH
    "$prefix/bin/conda-unpack" || {
        echo "run_in_env: conda-unpack failed in $prefix" >&2
        exit 1
    }
    mkdir -p -- "$prefix/poncho" && : >"$marker"
    exit
fi

if [ -f "$prefix/bin/conda-unpack" ] && [ ! -e "$marker" ] &&
    [ ! -f "$prefix/.poncho-run/state.json" ]; then
    locked "$0" --poncho-prepare-locked
    status=$?
    if [ "$status" -eq 75 ]; then
        echo "run_in_env: $prefix is still being prepared by another task after $wait s" \
            "(lock $prefix.poncho.lock); raise PONCHO_UNPACK_WAIT" >&2
        exit 75
    elif [ "$status" -ne 0 ]; then
        exit 1
    fi
fi
if [ "$#" -eq 0 ]; then
    exit 0
fi

# Data the spec names is fetched by poncho_package_run (poncho-fetch), when it is here.
if [ -f "$prefix/poncho/spec.json" ] &&
    tr -d ' \t\n\r' <"$prefix/poncho/spec.json" | grep -Eq '"(git|http)":\{"'; then
    if command -v poncho_package_run >/dev/null 2>&1; then
        exec poncho_package_run -e "$prefix" -- "$@"
    fi
    echo "run_in_env: warning: the spec of $prefix names data (git/http), and" \
        "poncho_package_run is not on PATH to fetch it" >&2
fi

PATH="$prefix/bin${PATH:+:$PATH}"
CONDA_PREFIX="$prefix"
CONDA_DEFAULT_ENV="$prefix"
PONCHO_PREFIX="$prefix"
export PATH CONDA_PREFIX CONDA_DEFAULT_ENV PONCHO_PREFIX
unset PYTHONPATH PYTHONHOME

for script in "$prefix"/etc/conda/activate.d/*.sh; do
    if [ -f "$script" ]; then
        # shellcheck source=/dev/null
        . "$script"
    fi
done
set_env() {
    # shellcheck source=/dev/null
    . "$prefix/poncho/set_env"
}
if [ -f "$prefix/poncho/set_env" ]; then
    set_env "$prefix"
fi

exec "$@"
