#!/bin/sh
# poncho_package_run [-e ENV] [-u DIR] [-w SECS] [options] [--] [COMMAND [ARGS...]]
#
# Runs COMMAND in a packed Poncho/conda-pack environment. This one file is what pip installs
# and what Work Queue, TaskVine factories, Parsl and coffea copy into each task's sandbox:
# a POSIX sh front end, followed by a zip archive that holds poncho-run's Python engine
# (`python3 THIS_FILE ARGS` runs it). sh never reads past the last line of the text.
#
# - Warm run (DIR ready): pure sh. Source DIR/.poncho-run/state.sh, apply the stored
#   activation, exec COMMAND. No Python starts besides COMMAND. Data the spec names is
#   served from poncho-fetch's cache as poncho-fetch does it (shared in-use lock on each
#   entry, inherited by COMMAND) once a run of the engine has recorded where it is.
# - Cold run: the engine, run by the first Python >= 3.10 found ($PONCHO_RUN_PYTHON, the
#   python beside this file, python3, python), unpacks under the lock and execs COMMAND.
# - No Python on the worker: tar extracts into the sibling folder under flock(1), then the
#   environment's own bin/python runs the engine to check, relocate and compute the
#   activation; the sibling is renamed to DIR as the engine does it.
#
# The on-disk protocol for DIR is the same on every path (docs/dev/contracts.md): lock
# file DIR.poncho.lock (flock), sibling DIR.poncho-tmp-*, temporary link DIR -> sibling
# while relocating, state written pending in the sibling, rename, then the state published.

prog=${0##*/}
case $prog in
    python_package_run | poncho_package_run) ;;
    *) prog=poncho_package_run ;;
esac
self=$0

die() {
    printf '%s: error: %s\n' "$prog" "$1" >&2
    exit "${2:-1}"
}

say() {
    if [ -n "$debug" ]; then
        printf '%s: %s\n' "$prog" "$1" >&2
    fi
}

# A notice at the default verbosity (hidden by -q), as the engine's `prog: note: ...`.
note() {
    if [ -z "$quietly" ]; then
        printf '%s: note: %s\n' "$prog" "$1" >&2
    fi
}

# A usage error: one line and where the usage is (poncho_core.cli_common.usage_error);
# without a message (-h with no python3 to print the help), the usage line.
usage() {
    if [ -n "${1-}" ]; then
        printf "%s: error: %s\n%s: see '%s -h' for the usage and options\n" "$prog" "$1" "$prog" "$prog" >&2
    else
        printf 'usage: %s [-e ENV] [-u DIR] [-w SECS] [options] [--] [COMMAND [ARGS...]]\n' "$prog" >&2
    fi
    exit 2
}

# Sets env, dir, wait, quiet and verbose (counts of -q and -v), nodata, datacache, odd (an
# option only the engine handles) and nopts (how many arguments are options). -d DIR is the
# CCTools 7.3.2 spelling of -u DIR; -d alone, before another option or beside
# -u/--unpack-to, is today's CCTools --debug.
parse() {
    has_u=
    skip=
    for a do
        if [ -n "$skip" ]; then
            skip=
            continue
        fi
        case $a in
            --) break ;;
            -u | --unpack-to) has_u=1 skip=1 ;;
            -u?* | --unpack-to=*) has_u=1 ;;
            -e | --environment | -w | --wait-for-lock | --data-cache | --max-unpacked-size) skip=1 ;;
            -*) ;;
            *) break ;;
        esac
    done
    nopts=0
    while [ "$#" -gt 0 ]; do
        case $1 in
            --)
                nopts=$((nopts + 1))
                return
                ;;
            -e | --environment | -u | --unpack-to | -w | --wait-for-lock | --data-cache)
                [ "$#" -ge 2 ] || usage "argument $1: expected one argument"
                case $1 in
                    -e | --environment) env=$2 ;;
                    -u | --unpack-to) dir=$2 ;;
                    --data-cache) datacache=$2 ;;
                    *) wait=$2 ;;
                esac
                nopts=$((nopts + 2))
                shift 2
                ;;
            --environment=*) env=${1#*=} nopts=$((nopts + 1)) && shift ;;
            --data-cache=*) datacache=${1#*=} nopts=$((nopts + 1)) && shift ;;
            --unpack-to=*) dir=${1#*=} nopts=$((nopts + 1)) && shift ;;
            --wait-for-lock=*) wait=${1#*=} nopts=$((nopts + 1)) && shift ;;
            -e?*) env=${1#-e} nopts=$((nopts + 1)) && shift ;;
            -u?*) dir=${1#-u} nopts=$((nopts + 1)) && shift ;;
            -w?*) wait=${1#-w} nopts=$((nopts + 1)) && shift ;;
            -d)
                if [ -n "$has_u" ] || [ "$#" -lt 2 ]; then
                    verbose=$((verbose + 1))
                    nopts=$((nopts + 1))
                    shift
                else
                    case $2 in
                        -*)
                            verbose=$((verbose + 1))
                            nopts=$((nopts + 1))
                            shift
                            ;;
                        *)
                            dir=$2
                            nopts=$((nopts + 2))
                            shift 2
                            ;;
                    esac
                fi
                ;;
            -v | --verbose | --debug) verbose=$((verbose + 1)) nopts=$((nopts + 1)) && shift ;;
            -vv) verbose=$((verbose + 2)) nopts=$((nopts + 1)) && shift ;;
            -q | --quiet) quiet=$((quiet + 1)) nopts=$((nopts + 1)) && shift ;;
            --no-data) nodata=1 nopts=$((nopts + 1)) && shift ;;
            --no-store) nopts=$((nopts + 1)) && shift ;; # the engine's; tar shares nothing
            -*)
                odd=$1
                return
                ;;
            *) return ;;
        esac
    done
}

# debug=1 when the verbosity is 1 or more: -v/-q counted, else $PONCHO_VERBOSITY (an
# integer; the engine's rule, poncho_run._args.verbosity).
verbosity() {
    if [ "$quiet$verbose" != 00 ]; then
        if [ $((verbose - quiet)) -ge 1 ]; then debug=1; fi
        if [ $((verbose - quiet)) -lt 0 ]; then quietly=1; fi
        return
    fi
    _pv=${PONCHO_VERBOSITY-}
    case ${_pv#-} in
        '') [ -z "$_pv" ] || usage "PONCHO_VERBOSITY='$_pv': expected an integer" ;;
        *[!0-9]*) usage "PONCHO_VERBOSITY='$_pv': expected an integer" ;;
        *[1-9]*) case $_pv in -*) quietly=1 ;; *) debug=1 ;; esac ;;
    esac
}

# Whether the Python $1 is 3.10 or newer: `-V` answers before the interpreter starts up
# (Python 2 answers on stderr).
new_python() {
    _v=$("$1" -V 2>&1) || return 1
    case $_v in
        "Python 3."[0-9]*) _v=${_v#Python 3.} ;;
        *) return 1 ;;
    esac
    [ "${_v%%[!0-9]*}" -ge 10 ]
}

# Hand the original command line to the engine, run by the first suitable Python: the
# one pip installed this script with (beside it: poncho-fetch is installed there), else
# one on PATH.
engine() {
    case $self in
        */*) _here=${self%/*} ;;
        *) _here=. ;;
    esac
    exclusive_lock # a lock handed to the engine is exclusive
    for py in ${PONCHO_RUN_PYTHON:+"$PONCHO_RUN_PYTHON"} "$_here/python3" "$_here/python" python3 python; do
        if command -v "$py" >/dev/null 2>&1 && new_python "$py"; then
            if [ -n "$locked" ]; then
                PONCHO_RUN_LOCK_FD=9 # the engine holds the lock through it
                export PONCHO_RUN_LOCK_FD
            fi
            exec "$py" -E -s "$self" "$@"
        fi
    done
    if [ -n "$dir" ] && [ -x "$dir/bin/python" ]; then
        if [ -n "$locked" ]; then
            PONCHO_RUN_LOCK_FD=9
            export PONCHO_RUN_LOCK_FD
        fi
        exec "$dir/bin/python" -E -s "$self" "$@"
    fi
    return 1
}

# What `conda activate PREFIX` sets before its scripts (poncho_run.activate.activate_base).
activate_base() {
    unset PYTHONPATH PYTHONHOME
    _bin=$1/bin
    _old=${CONDA_PREFIX-}
    _oldbin=
    if [ -n "$_old" ]; then
        _oldbin=$_old/bin
    fi
    _rest=${PATH-/bin:/usr/bin}:
    PATH=$_bin
    while [ -n "$_rest" ]; do
        _d=${_rest%%:*}
        _rest=${_rest#*:}
        if [ "$_d" != "$_bin" ] && { [ -z "$_oldbin" ] || [ "$_d" != "$_oldbin" ]; }; then
            PATH=$PATH:$_d
        fi
    done
    export PATH
    if [ "$_old" != "$1" ]; then
        _level=${CONDA_SHLVL:-0}
        case $_level in
            '' | *[!0-9]*) _level=0 ;;
        esac
        if [ -n "$_old" ]; then
            eval "CONDA_PREFIX_$_level=\$_old; export CONDA_PREFIX_$_level"
        fi
        CONDA_SHLVL=$((_level + 1))
    fi
    : "${CONDA_SHLVL=1}"
    CONDA_PREFIX=$1
    CONDA_DEFAULT_ENV=$1
    CONDA_PROMPT_MODIFIER="(${1##*/}) "
    export CONDA_SHLVL CONDA_PREFIX CONDA_DEFAULT_ENV CONDA_PROMPT_MODIFIER
}

# Load DIR's shell state; true if DIR is ready (its data, if any, is `hold_data`'s).
ready() {
    _poncho_state=
    _poncho_data=
    _poncho_data_recorded=
    _poncho_archive_size=
    if [ -f "$dir/.poncho-run/state.sh" ] && [ -f "$dir/.poncho-run/state.json" ]; then
        # shellcheck source=/dev/null
        . "$dir/.poncho-run/state.sh" 2>/dev/null || return 1
    fi
    [ "$_poncho_state" = 1 ] && [ -n "$_poncho_data" ]
}

# The data cache folder, found as poncho-fetch finds it (poncho_fetch.cache:
# --data-cache, $PONCHO_FETCH_CACHE, $XDG_CACHE_HOME/poncho/data, ~/.cache/poncho/data;
# "~" expanded, relative to the current folder); 1 if sh cannot tell (the engine will).
data_root() {
    if [ -n "$datacache" ]; then
        _root=$datacache
    elif [ -n "${PONCHO_FETCH_CACHE-}" ]; then
        _root=$PONCHO_FETCH_CACHE
    elif [ -n "${XDG_CACHE_HOME-}" ]; then
        _root=$XDG_CACHE_HOME/poncho/data
    else
        [ -n "${HOME-}" ] || return 1 # the engine asks the password database
        _root=$HOME/.cache/poncho/data
    fi
    case $_root in
        \~ | \~/*)
            [ -n "${HOME-}" ] || return 1
            _root=$HOME${_root#\~}
            ;;
        \~*) return 1 ;; # ~user: the engine asks the password database
    esac
    case $_root in
        /*) ;;
        *) _root=$PWD/$_root ;;
    esac
}

# Hold one cache entry in use (called by the state's _poncho_data_each with VAR KEY PATH)
# as poncho-fetch's DataCache.using(..., inheritable=True) does: open locks/KEY.lock on a
# free descriptor (3 to 8) that COMMAND inherits, take a shared flock on it (eviction takes
# it exclusively without waiting, so an entry in use is never removed), then check that
# the entry is complete (its meta.json) and record its use (.used's mtime, which eviction
# orders by). 1 if anything is missing or the lock stays taken: the engine then fetches.
# shellcheck disable=SC2317 # called through _poncho_data_each
hold_entry() {
    _fd=3
    while { true >&"$_fd"; } 2>/dev/null; do # open already (inherited): not ours to reuse
        _fd=$((_fd + 1))
        [ "$_fd" -le 8 ] || return 1
    done
    _entry=$_root/entries/$2
    _lockfile=$_root/locks/$2.lock
    # Append mode creates it without truncating; a lock file one cannot write still locks.
    if ! { eval "command exec $_fd>>\"\$_lockfile\""; } 2>/dev/null; then
        { eval "command exec $_fd<\"\$_lockfile\""; } 2>/dev/null || return 1
    fi
    _fds="$_fds $_fd"
    flock -s -w 1 "$_fd" || return 1
    [ -s "$_entry/meta.json" ] && [ -e "$_entry/$3" ] || return 1
    { true >"$_entry/.used"; } 2>/dev/null # a read-only cache still serves its data
    eval "_poncho_dv_$1=\$_entry/\$3"
    _poncho_dvars="$_poncho_dvars $1"
}

# Hold every data entry of DIR's spec (state loaded by `ready`); true when there is none to
# hold (no data, --no-data). 1 when the engine must do it (not recorded yet, an entry
# missing or busy): every lock taken here is then dropped again.
hold_data() {
    _poncho_dvars=
    _fds=
    if [ "$_poncho_data" = 0 ] || [ -n "$nodata" ]; then
        return 0
    fi
    if [ "$_poncho_data_recorded" = 1 ] && command -v flock >/dev/null 2>&1 && data_root &&
        _poncho_data_each hold_entry; then
        return 0
    fi
    for _fd in $_fds; do
        eval "exec $_fd>&-"
    done
    return 1
}

# Run COMMAND (after the options in "$@") in the ready DIR: exits 0 without a command;
# returns 1 when its data needs the engine.
warm() {
    shift "$nopts"
    if [ "$#" -eq 0 ]; then
        exit 0
    fi
    hold_data || return 1
    say "using the environment in $dir${_poncho_archive_path:+, unpacked from $_poncho_archive_path}"
    run_ready "$@"
}

# Whether ENV is the archive DIR was unpacked from (state loaded by `ready`): 0 yes (or
# nothing to compare), 1 cannot tell here (the engine will); exits 65 when it is another
# one. Size and mtime decide when they are equal; another mtime (a copy) needs the sha256.
same_archive() {
    if [ -z "$env" ] || [ ! -f "$env" ] || [ -z "${_poncho_archive_size-}" ]; then
        return 0
    fi
    _st=$(stat -L -c '%s %Y' -- "$env" 2>/dev/null) || return 1
    if [ "${_st% *}" = "$_poncho_archive_size" ]; then
        if [ "${_st#* }" = "${_poncho_archive_mtime-}" ]; then
            return 0
        fi
        command -v sha256sum >/dev/null 2>&1 || return 1
        _sum=$(sha256sum <"$env") || return 1
        if [ "${_sum%% *}" = "${_poncho_archive_sha256-}" ]; then
            return 0
        fi
        _how="sha256 $(printf %.12s "${_sum%% *}")..., not $(printf %.12s "${_poncho_archive_sha256-}")..."
    else
        _how="${_st% *} bytes, not $_poncho_archive_size"
    fi
    case $env in
        /*) _abs=$env ;;
        *) _abs=$PWD/$env ;;
    esac
    if [ "$_abs" = "${_poncho_archive_path-}" ]; then
        die "$dir: was unpacked from $env before that file changed ($_how); give another folder (-u DIR) for this environment, or remove $dir to unpack it again" 65
    fi
    die "$dir: was unpacked from ${_poncho_archive_path:-another archive}, not from $env, whose contents differ ($_how); give another folder (-u DIR) for this environment" 65
}

# Replace this process with COMMAND in the environment at DIR (state loaded by `ready`,
# data held by `hold_data`).
run_ready() {
    activate_base "$dir"
    _poncho_prefix=$dir
    _poncho_apply
    case $1 in
        *.py)
            if [ -f "$1" ] && [ ! -x "$1" ]; then
                if [ -e "$dir/bin/python" ]; then
                    set -- "$dir/bin/python" "$@"
                else
                    set -- python "$@"
                fi
            fi
            ;;
    esac
    for _var in $_poncho_dvars; do # last, as the engine adds them to the activation
        eval "$_var=\$_poncho_dv_$_var; export $_var"
    done
    if ! command -v -- "$1" >/dev/null 2>&1; then
        die "$1: command not found in the environment" 127
    fi
    exec "$@"
}

# Unpack ENV into DIR with tar, under the lock, for a worker with no python3.
# Take the lock of DIR on fd 9 (flock(1), the engine's lock); 1 if it cannot be opened.
take_lock() {
    _parent=${dir%/*}
    mkdir -p -- "${_parent:-/}" 2>/dev/null || return 1
    _lock=$dir.poncho.lock
    if [ -L "$_lock" ]; then
        die "$_lock: the lock file is a symbolic link; refusing it"
    fi
    # `command`: a redirection exec fails on must not end the shell (POSIX special built-in).
    if ! { command exec 9>>"$_lock"; } 2>/dev/null; then
        { command exec 9<"$_lock"; } 2>/dev/null || return 1
    fi
    if [ ! -f "$_lock" ] || [ -L "$_lock" ]; then
        die "$_lock: the lock file is not a regular file; refusing it"
    fi
    if flock -n 9; then
        locked=1
        return 0
    fi
    say "waiting up to $wait s for the lock on $dir (held by another run)"
    # Shared while waiting: when the run unpacking DIR is done, the waiters all wake at
    # once and find DIR ready (waiting for it exclusively, they would wake one at a time,
    # each after the previous one checked DIR: a queue of wake-ups on a busy node).
    flock -s -w "$wait" 9 || lock_timeout
    locked=shared
}

# Hold the lock of DIR exclusively (taken shared by take_lock: DIR was not ready).
exclusive_lock() {
    if [ "$locked" = shared ]; then
        flock -w "$wait" 9 || lock_timeout
        locked=1
    fi
}

lock_timeout() {
    die "$dir: still being unpacked by another process after waiting $wait s (lock $dir.poncho.lock); try again later or raise --wait-for-lock" 75
}

# Unpack ENV into DIR with tar, under the lock, for a worker with no python3.
# The tar path shares nothing through the node store (poncho_run.store): DIR gets files
# of its own, as with --no-store.
unpack_with_tar() {
    command -v flock >/dev/null 2>&1 || die "$dir: no python3 and no flock(1) on this worker to lock it"
    command -v tar >/dev/null 2>&1 || die "$dir: no python3 and no tar on this worker to unpack $env"
    if [ -z "$locked" ]; then
        take_lock || die "cannot lock $dir: cannot create or open $dir.poncho.lock"
    fi
    if ready; then
        same_archive || die "$dir: cannot check that $env is the archive it was unpacked from"
        exec 9>&-
        locked=
        return 0
    fi
    exclusive_lock
    if ready; then # unpacked by the run we waited for
        same_archive || die "$dir: cannot check that $env is the archive it was unpacked from"
        exec 9>&-
        locked=
        return 0
    fi
    # Leftovers of runs killed while unpacking (we hold the lock: nobody owns them).
    if [ -L "$dir" ]; then
        case $(readlink -- "$dir") in
            "$dir.poncho-tmp-"*) rm -f -- "$dir" ;;
        esac
    fi
    for _stale in "$dir.poncho-tmp-"*; do
        if [ -d "$_stale" ] && [ ! -L "$_stale" ]; then
            say "removing $_stale, left by an interrupted unpack"
            rm -rf -- "$_stale"
        fi
    done
    _sdir=$dir/.poncho-run
    if [ -f "$_sdir/state.json.pending" ]; then
        # Renamed into place by a run killed before it published the state.
        if [ -f "$_sdir/state.sh.pending" ]; then
            mv -f -- "$_sdir/state.sh.pending" "$_sdir/state.sh"
        fi
        mv -f -- "$_sdir/state.json.pending" "$_sdir/state.json"
        exec 9>&-
        locked=
        return 0
    fi
    if [ -d "$dir" ] && [ -n "$(ls -A -- "$dir")" ]; then
        die "$dir: holds files but is not prepared, and there is no python3 here to prepare it"
    fi
    [ -n "$env" ] || die "$dir: is empty or missing, and no environment (-e) was given"
    [ -f "$env" ] || die "$env: no such environment file"
    if [ -d "$dir" ]; then
        rmdir -- "$dir" || die "cannot create $dir"
    fi
    _tmp=$dir.poncho-tmp-$$
    mkdir -- "$_tmp" || die "cannot create a temporary folder next to $dir"
    trap 'rm -rf -- "$_tmp"; if [ -L "$dir" ]; then rm -f -- "$dir"; fi' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    say "unpacking $env into $dir (tar: no python3 on this worker)"
    if [ -z "$debug$quietly" ] && [ -t 2 ]; then
        printf '%s: unpacking %s into %s...\n' "$prog" "$env" "$dir" >&2
    fi
    # GNU tar strips leading /, refuses members with .., and delays links that point
    # outside; the engine then checks what it wrote (tests-integration checks tar itself).
    tar -x --no-same-owner -f "$env" -C "$_tmp" ||
        die "$env: corrupt, truncated or unsafe archive (tar exited with status $?)"
    # The archive's own .poncho-run (packed from a used DIR) goes before the link can show
    # it; anything there but regular files is refused (poncho_run.unpack.drop_packed_state).
    _packed=$_tmp/.poncho-run
    if [ -L "$_packed" ] || [ -e "$_packed" ]; then
        _odd=
        if [ -L "$_packed" ] || [ ! -d "$_packed" ]; then
            _odd=.poncho-run
        else
            for _f in "$_packed"/* "$_packed"/.[!.]* "$_packed"/..?*; do
                if [ -L "$_f" ] || { [ -e "$_f" ] && [ ! -f "$_f" ]; }; then
                    _odd=.poncho-run/${_f##*/}
                    break
                fi
            done
        fi
        [ -z "$_odd" ] ||
            die "$env: unsafe archive member '$_odd': poncho_package_run's state folder may hold only its state files"
        rm -rf -- "$_packed"
    fi
    ln -s -- "$_tmp" "$dir" || die "cannot create $dir"
    [ -x "$dir/bin/python" ] || die "$env: the environment has no bin/python, and there is no python3 on this worker"
    _v=
    if [ -n "$debug" ]; then
        _v=-v
    fi
    # Through the link: conda-unpack takes the prefix from its own path.
    "$dir/bin/python" -E -s "$self" --poncho-finalize-extracted "$dir" "$env" $_v || exit
    if ! rm -f -- "$dir" || ! mv -- "$_tmp" "$dir"; then
        die "cannot move the unpacked environment into $dir"
    fi
    trap - EXIT INT TERM HUP
    if [ -f "$_sdir/state.sh.pending" ]; then
        mv -f -- "$_sdir/state.sh.pending" "$_sdir/state.sh"
    fi
    mv -f -- "$_sdir/state.json.pending" "$_sdir/state.json" || die "$dir: cannot publish its state"
    exec 9>&-
    locked=
}

env=
dir=
wait=300
debug=
quietly=
quiet=0
verbose=0
nodata=
datacache=
odd=
nopts=0
locked=
unset PONCHO_RUN_LOCK_FD
parse "$@"
if [ -z "$odd" ]; then
    verbosity
fi

# Anything unusual (help, version, --data-cache, errors) is the engine's to answer.
if [ -n "$odd" ]; then
    engine "$@"
    case $odd in
        -h | --help) usage ;;
        --help-env-creation)
            echo "Make the tarball on the submit side: poncho_package_create spec.json env.tar.gz"
            exit 0
            ;;
        *) usage "unrecognized arguments: $odd (or no python3 here to understand it)" ;;
    esac
fi
case $wait in
    '' | *[!0-9.]* | *.*.* | .) usage "argument -w/--wait-for-lock: invalid seconds value: '$wait'" ;;
esac
if [ -n "$env" ] && [ -d "$env" ]; then
    dir=$env # an unpacked environment: used in place
fi
if [ -z "$dir" ] && [ -z "$env" ]; then
    usage "give an environment (-e ENV), an unpack folder (-u DIR), or both"
fi

if [ -n "$dir" ]; then
    case $dir in
        /*) ;;
        *) dir=$PWD/$dir ;;
    esac
    while :; do
        case $dir in
            ?*/) dir=${dir%/} ;;
            *) break ;;
        esac
    done
    if [ -L "$dir" ] && [ -d "$dir" ]; then
        # DIR a link to a folder: that folder, as the engine does (not the protocol's own
        # link to a DIR.poncho-tmp-* sibling).
        case $(readlink "$dir") in
            *"${dir##*/}.poncho-tmp-"*) ;;
            *) dir=$(cd -P "$dir" && pwd) ;;
        esac
    fi
    if ready && same_archive; then
        warm "$@" # returns when the data needs the engine: DIR is ready, no lock then
    # Cold: take the lock here, so that runs starting together wait in sh and then take the
    # warm path; the one that gets it first hands it to the engine (fd 9).
    elif command -v flock >/dev/null 2>&1 && take_lock; then
        if ready && same_archive; then
            exec 9>&-
            locked=
            warm "$@"
        elif [ "$locked" = shared ]; then
            exclusive_lock # the engine needs it
            if ready && same_archive; then
                exec 9>&-
                locked=
                warm "$@"
            fi
        fi
    fi
fi

engine "$@"

# No Python on this worker: tar, flock and the environment's own interpreter.
if [ -z "$dir" ]; then
    _tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/poncho-run-XXXXXXXX") || die "cannot create a temporary folder"
    dir=$_tmpdir/env
    (
        unpack_with_tar
        ready || die "$dir: prepared, but its activation needs Python to apply"
        if [ "$#" -eq "$nopts" ]; then
            note "no COMMAND: $env was unpacked into a temporary folder, checked and removed; nothing was run (give a COMMAND, or -u DIR to keep the folder)"
        fi
        warm "$@"
        die "$dir: its spec names data (git/http), and there is no python3 here to fetch it (--no-data runs without)"
    )
    status=$?
    rm -rf -- "$_tmpdir"
    exit "$status"
fi
unpack_with_tar
if ready; then
    warm "$@"
fi
if [ -x "$dir/bin/python" ]; then
    exec "$dir/bin/python" -E -s "$self" "$@"
fi
die "$dir: its activation or data needs Python, and there is none here"
# The engine (a zip archive) follows; sh never reaches it: every path above ends in exit.
