#!/bin/sh
# Print a PATH prefix that puts python3.10 and the newest python3.1x on PATH.
# On these machines they live in pyenv's versions folder without shims; elsewhere they
# are usually already on PATH, and nothing is added.
root="${PYENV_ROOT:-$HOME/.pyenv}"
out=""
for v in 3.10 3.11 3.12 3.13 3.14; do
  if ! command -v "python$v" >/dev/null 2>&1 || ! "python$v" -c '' >/dev/null 2>&1; then
    d=$(ls -d "$root"/versions/"$v".*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/python$v" ]; then out="$out$d:"; fi
  fi
done
printf '%s' "$out"
