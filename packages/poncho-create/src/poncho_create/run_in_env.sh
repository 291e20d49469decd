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
# state. $PONCHO_UNPACK_WAIT bounds the wait for the lock (default 300 s).
#
# Data the spec names (git/http) goes to COMMAND's variables from the node's data cache,
# poncho-fetch's (docs/dev/contracts.md), shared with poncho_package_run: served here in sh
# once poncho/data.sh records where each entry is (a shared flock on locks/KEY.lock that
# COMMAND inherits, as poncho_package_run's front end does); else fetched by
# poncho_package_run when it is on PATH; else by the fetcher the tarball carries,
# poncho/fetch.pyz, run by the environment's own python (or python3, >= 3.10), which
# records the entries and execs this script again with --poncho-data-held.

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

# The data cache folder, found as poncho-fetch finds it (poncho_fetch.settings:
# $PONCHO_FETCH_CACHE, $XDG_CACHE_HOME/poncho/data, ~/.cache/poncho/data; "~" expanded,
# relative to the current folder); 1 if sh cannot tell (the fetcher will).
data_root() {
    if [ -n "${PONCHO_FETCH_CACHE-}" ]; then
        _root=$PONCHO_FETCH_CACHE
    elif [ -n "${XDG_CACHE_HOME-}" ]; then
        _root=$XDG_CACHE_HOME/poncho/data
    else
        [ -n "${HOME-}" ] || return 1
        _root=$HOME/.cache/poncho/data
    fi
    case $_root in
        \~ | \~/*)
            [ -n "${HOME-}" ] || return 1
            _root=$HOME${_root#\~}
            ;;
        \~*) return 1 ;;
    esac
    case $_root in
        /*) ;;
        *) _root=$PWD/$_root ;;
    esac
}

# Hold one cache entry in use (called by poncho/data.sh's _poncho_data_each with VAR KEY
# PATH), as poncho-fetch's DataCache.using(..., inheritable=True) and poncho_package_run's
# hold_entry do: a shared flock on locks/KEY.lock through a free descriptor (3 to 8) that
# COMMAND inherits (eviction takes it exclusively without waiting), then the entry must be
# complete (meta.json); its use is recorded (.used's mtime, which eviction orders by).
# shellcheck disable=SC2317 # called through _poncho_data_each
hold_entry() {
    _fd=3
    while { true >&"$_fd"; } 2>/dev/null; do # open already (inherited): not ours to reuse
        _fd=$((_fd + 1))
        [ "$_fd" -le 8 ] || return 1
    done
    _entry=$_root/entries/$2
    _lockfile=$_root/locks/$2.lock
    if ! { eval "command exec $_fd>>\"\$_lockfile\""; } 2>/dev/null; then
        { eval "command exec $_fd<\"\$_lockfile\""; } 2>/dev/null || return 1
    fi
    _fds="$_fds $_fd"
    flock -s -w 1 "$_fd" || return 1
    [ -s "$_entry/meta.json" ] && [ -e "$_entry/$3" ] || return 1
    { true >"$_entry/.used"; } 2>/dev/null # a read-only cache still serves its data
    eval "$1=\$_entry/\$3"
    export "${1?}"
}

# Serve the recorded data from the cache; 1 (every lock dropped again) when it is not
# recorded, an entry is missing or busy, or flock(1) is not here: the fetcher then runs.
hold_data() {
    _fds=
    if [ -f "$prefix/poncho/data.sh" ] && command -v flock >/dev/null 2>&1 && data_root; then
        # shellcheck source=/dev/null
        . "$prefix/poncho/data.sh" && _poncho_data_each hold_entry && return 0
    fi
    for _fd in $_fds; do
        eval "exec $_fd>&-"
    done
    return 1
}

# The first python >= 3.10 to run the fetcher: $PONCHO_RUN_PYTHON, the environment's own,
# python3 on PATH (`-V` answers before the interpreter starts up).
fetch_python() {
    for _py in ${PONCHO_RUN_PYTHON:+"$PONCHO_RUN_PYTHON"} "$prefix/bin/python" python3; do
        if command -v "$_py" >/dev/null 2>&1; then
            _v=$("$_py" -V 2>&1) || continue
            case $_v in
                "Python 3."[0-9]*) _v=${_v#Python 3.} ;;
                *) continue ;;
            esac
            if [ "${_v%%[!0-9]*}" -ge 10 ]; then
                _python=$_py
                return 0
            fi
        fi
    done
    return 1
}

if [ "$1" = "--poncho-data-held" ]; then
    shift # the fetcher holds the data and has set its variables
    if [ "$#" -eq 0 ]; then
        exit 0
    fi
elif [ -f "$prefix/poncho/spec.json" ] &&
    tr -d ' \t\n\r' <"$prefix/poncho/spec.json" | grep -Eq '"(git|http)":\{"'; then
    if hold_data; then
        :
    elif command -v poncho_package_run >/dev/null 2>&1; then
        exec poncho_package_run -e "$prefix" -- "$@"
    elif [ ! -f "$prefix/poncho/fetch.pyz" ]; then
        echo "run_in_env: warning: the spec of $prefix names data (git/http), and" \
            "poncho_package_run is not on PATH to fetch it" >&2
    elif fetch_python; then
        exec "$_python" -E -s "$prefix/poncho/fetch.pyz" "$prefix" "$prefix/bin/run_in_env" \
            -- "$@"
    else
        echo "run_in_env: warning: the spec of $prefix names data (git/http), and there is" \
            "no python >= 3.10 here to fetch it (poncho/fetch.pyz)" >&2
    fi
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
