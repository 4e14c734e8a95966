#!/usr/bin/env bash
# Runs a command as on a machine that lacks some libraries or files: in a private mount namespace,
# each PATH given is hidden for the command alone (an empty folder over a folder, an empty file
# over a file, so the dynamic loader finds nothing usable there). The rest of the machine is as it
# is; nothing outside the namespace changes. --bind SOURCE:TARGET first makes SOURCE (a folder)
# also appear at TARGET (an existing folder), so that libraries can be moved to where another
# machine keeps them before their usual place is hidden.
#   usage: scripts/without-libraries.sh [--bind SOURCE:TARGET]... PATH... -- COMMAND [ARGS...]
# Exit: the command's own status; 77 when the namespace cannot be made (needs root or unprivileged
# user namespaces), with the reason on stderr. Paths that do not exist are skipped.
set -euo pipefail
hidden=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do hidden+=("$1"); shift; done
if [ "$#" -lt 2 ]; then
  echo "usage: $0 PATH... -- COMMAND [ARGS...]" >&2
  exit 2
fi
shift
if ! command -v unshare >/dev/null; then
  echo "without-libraries: unshare (util-linux) is not installed" >&2
  exit 77
fi
namespace=(unshare --mount --propagation private)
[ "$(id -u)" -eq 0 ] || namespace=(unshare --user --map-root-user --mount --propagation private)
if ! "${namespace[@]}" true 2>/dev/null; then
  echo "without-libraries: cannot make a mount namespace here (needs root or user namespaces)" >&2
  exit 77
fi
# shellcheck disable=SC2016
exec "${namespace[@]}" bash -c '
  set -e
  while [ "$1" != "--" ]; do
    if [ "$1" = --bind ]; then mount --bind "${2%%:*}" "${2#*:}"; shift 2; continue; fi
    if [ -d "$1" ]; then mount -t tmpfs -o ro,size=4k hidden "$1"
    elif [ -e "$1" ]; then mount --bind /dev/null "$1"
    fi
    shift
  done
  shift
  exec "$@"' hide "${hidden[@]}" -- "$@"
