#!/bin/sh
# run_in_env COMMAND [ARGS...]
#
# Runs COMMAND inside the conda environment this script lives in (its bin/ folder), the
# convention CCTools TaskVine and Work Queue workers use for Poncho tarballs. Written by
# poncho-create. On first use it runs bin/conda-unpack once (a marker file records it; a
# lock folder keeps two tasks from running it at the same time), then it sets PATH,
# CONDA_PREFIX and CONDA_DEFAULT_ENV, unsets PYTHONPATH and PYTHONHOME, sources
# etc/conda/activate.d/*.sh and execs COMMAND. A task that finds another one unpacking waits
# for it up to $PONCHO_UNPACK_WAIT seconds (default 300).

if [ "$#" -eq 0 ]; then
    echo "usage: run_in_env COMMAND [ARGS...]" >&2
    exit 2
fi

case "$0" in
    */*) script_dir=${0%/*} ;;
    *) script_dir=$(dirname -- "$(command -v -- "$0")") ;;
esac
prefix=$(cd -- "$script_dir/.." && pwd -P) || {
    echo "run_in_env: cannot find the environment of $0" >&2
    exit 1
}

PATH="$prefix/bin${PATH:+:$PATH}"
export PATH

marker="$prefix/poncho/.unpacked"
if [ -f "$prefix/bin/conda-unpack" ] && [ ! -e "$marker" ]; then
    lock="$prefix/poncho/.unpack.lock"
    mkdir -p "$prefix/poncho"
    have_lock=no
    waited=0
    while :; do
        if mkdir "$lock" 2>/dev/null; then
            have_lock=yes
            break
        fi
        if [ -e "$marker" ]; then
            break
        fi
        if [ "$waited" -ge "${PONCHO_UNPACK_WAIT:-300}" ]; then
            echo "run_in_env: gave up waiting for $lock (remove it if no task is unpacking)" >&2
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    if [ "$have_lock" = yes ]; then
        status=0
        if [ ! -e "$marker" ]; then
            (unset PYTHONPATH PYTHONHOME; "$prefix/bin/conda-unpack") || status=$?
            if [ "$status" -eq 0 ]; then
                : >"$marker"
            fi
        fi
        rmdir "$lock"
        if [ "$status" -ne 0 ]; then
            echo "run_in_env: conda-unpack failed in $prefix" >&2
            exit 1
        fi
    fi
fi

CONDA_PREFIX="$prefix"
CONDA_DEFAULT_ENV="$prefix"
export CONDA_PREFIX CONDA_DEFAULT_ENV
unset PYTHONPATH PYTHONHOME

for script in "$prefix"/etc/conda/activate.d/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done

exec "$@"
