#!/usr/bin/env bash
# A small cluster on one machine: N hosts as Linux network namespaces, each with its own network
# stack, host name and mount table, joined through a switch (a bridge in a namespace of its own)
# by bandwidth-limited links, and a command run across them with mpirun.
#
#   bash scripts/emulated-cluster.sh --hosts 3 --link 1gbit -- cohort train --epochs 1
#
# mpirun runs on host1 (the head node) with a hostfile naming host1..hostN; Open MPI starts its
# daemons on the other hosts through a launch agent (plm_rsh_agent) that enters the named host's
# namespace, as ssh would log in to it. Both the runtime (oob) and MPI traffic (btl tcp) use the
# hosts' eth0; ranks on one host talk through shared memory, as on a real node. Addresses
# (10.77.0.0/24) exist only inside the cluster's own namespaces: nothing reaches the machine's
# network. Everything is torn down on exit, however the job ends (trap): processes still in a
# host are killed and reported, namespaces and their /etc/netns files removed.
#
# Options (before --):
#   --hosts N            hosts, 2..8 [2]
#   --link RATE          link bandwidth in tc's syntax (100mbit, 1gbit, 10gbit), or none [1gbit]
#   --slots S            ranks per host [1]
#   --np P               ranks in all [hosts x slots]
#   --mount HOST:SRC:DST bind SRC over DST on HOST only (e.g. a host with other data); repeatable
#   --cut HOST@SECONDS   take HOST's link down SECONDS after the job starts (a failed link)
#   --mpirun-arg ARG     one more mpirun argument; repeatable
#   --timeout SECONDS    kill the job after this long [900]
#   --no-mpirun          run the command once on host1 (a shell inside the cluster) instead; it
#                        finds the hostfile in $COHORT_CLUSTER_HOSTFILE, and an mpirun it starts
#                        reaches the other hosts (launch agent and interfaces as OMPI_MCA_* variables)
#   --check              only check that namespaces can be made here: exit 0, or 77 with why
# Exit status: the job's (mpirun's), 124 when --timeout ran out, 77 when no cluster can be made,
# 2 for bad options. The last line on stderr says how the job ended and how many processes were
# left in the hosts when it did (0 is the only good answer).
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
fail() { echo "emulated-cluster: error: $*" >&2; exit 2; }

hosts=2 link=1gbit slots=1 np="" timeout_s=900 run_mpirun=1 check_only=0
mounts=() cuts=() mpirun_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --hosts) hosts=${2:-}; shift 2 ;;
        --link) link=${2:-}; shift 2 ;;
        --slots) slots=${2:-}; shift 2 ;;
        --np) np=${2:-}; shift 2 ;;
        --mount) mounts+=("${2:-}"); shift 2 ;;
        --cut) cuts+=("${2:-}"); shift 2 ;;
        --mpirun-arg) mpirun_args+=("${2:-}"); shift 2 ;;
        --timeout) timeout_s=${2:-}; shift 2 ;;
        --no-mpirun) run_mpirun=0; shift ;;
        --check) check_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        *) fail "unknown option '$1' (options come before --, the command after it; --help lists them)" ;;
    esac
done
[[ "$hosts" =~ ^[0-9]+$ ]] && [ "$hosts" -ge 2 ] && [ "$hosts" -le 8 ] || fail "--hosts must be 2..8, got '$hosts'"
[[ "$slots" =~ ^[0-9]+$ ]] && [ "$slots" -ge 1 ] || fail "--slots must be a positive whole number, got '$slots'"
[ -n "$np" ] || np=$((hosts * slots))
[[ "$np" =~ ^[0-9]+$ ]] && [ "$np" -ge 1 ] || fail "--np must be a positive whole number, got '$np'"
[[ "$timeout_s" =~ ^[0-9]+$ ]] && [ "$timeout_s" -ge 1 ] || fail "--timeout must be a positive whole number of seconds"
[ "$link" = none ] || [[ "$link" =~ ^[0-9]+(\.[0-9]+)?([kmgt]?bit)$ ]] ||
    fail "--link must be a rate like 100mbit, 1gbit or 10gbit, or none; got '$link'"
host_index() {  # hostN -> N, checked
    [[ "$1" =~ ^host([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le "$hosts" ] ||
        fail "'$1' is not one of the hosts host1..host$hosts"
    echo "${BASH_REMATCH[1]}"
}
for m in "${mounts[@]}"; do
    IFS=: read -r mh msrc mdst <<<"$m"
    host_index "$mh" >/dev/null
    [ -n "$msrc" ] && [ -n "$mdst" ] || fail "--mount wants HOST:SRC:DST, got '$m'"
    [ -e "$msrc" ] || fail "--mount $m: $msrc does not exist"
done
for c in "${cuts[@]}"; do
    [[ "$c" =~ ^(host[0-9]+)@([0-9]+(\.[0-9]+)?)$ ]] || fail "--cut wants HOST@SECONDS, got '$c'"
    host_index "${BASH_REMATCH[1]}" >/dev/null
done
[ $# -gt 0 ] || [ "$check_only" = 1 ] || fail "no command after -- (see --help)"

# Namespaces need root (or CAP_SYS_ADMIN and CAP_NET_ADMIN), ip and unshare.
cannot() { echo "emulated-cluster: cannot make a cluster here: $*" >&2; exit 77; }
command -v ip >/dev/null || cannot "ip (iproute2) is not installed"
command -v unshare >/dev/null || cannot "unshare (util-linux) is not installed"
[ "$link" = none ] || command -v tc >/dev/null || cannot "tc (iproute2) is not installed; use --link none"
probe="cohort-probe-$$"
ip netns add "$probe" 2>/dev/null || cannot "'ip netns add' failed (needs root or CAP_SYS_ADMIN + CAP_NET_ADMIN)"
ip netns del "$probe"
[ "$check_only" = 1 ] && { echo "emulated-cluster: network namespaces can be made here"; exit 0; }
[ "$run_mpirun" = 0 ] || command -v mpirun >/dev/null || cannot "mpirun is not on PATH"

id="c$$"
switch="$id-switch"
state=$(mktemp -d "${TMPDIR:-/tmp}/emulated-cluster.XXXXXX")
namespaces=()
background=()
finished=0

leftover_count() {
    local n=0 ns
    for ns in "${namespaces[@]}"; do n=$((n + $(ip netns pids "$ns" 2>/dev/null | wc -l))); done
    echo "$n"
}
teardown() {
    local ns pid
    for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
    rm -rf "$state"
}
trap teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
trap '' PIPE

# tc's token bucket: a burst of 4 ms at the link's rate (at least 64 KiB) and 50 ms of queue.
shape() {  # NAMESPACE DEVICE
    [ "$link" = none ] && return 0
    local bits=${link%bit} scale=1
    case "$bits" in *k) scale=1000 ;; *m) scale=1000000 ;; *g) scale=1000000000 ;; *t) scale=1000000000000 ;; esac
    local burst
    burst=$(awk -v n="${bits%[kmgt]}" -v s="$scale" 'BEGIN { b = n * s / 8 * 0.004; if (b < 65536) b = 65536; printf "%d", b }')
    tc -n "$1" qdisc add dev "$2" root tbf rate "$link" burst "$burst" latency 50ms ||
        { echo "emulated-cluster: error: tc could not limit $2 to $link" >&2; exit 1; }
}

set -e
ip netns add "$switch"; namespaces+=("$switch")
ip -n "$switch" link set lo up
ip -n "$switch" link add br0 type bridge
ip -n "$switch" link set br0 up
hostfile="$state/hostfile"
: >"$hostfile"
for i in $(seq 1 "$hosts"); do
    ns="$id-host$i"
    ip netns add "$ns"; namespaces+=("$ns")
    ip -n "$switch" link add "port$i" type veth peer name eth0 netns "$ns"
    ip -n "$switch" link set "port$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    # A peer that stops answering is given up after about 13 s of retransmissions (Linux's default
    # is 15 retries, about 15 minutes) and idle runtime connections are probed after 5 s, as
    # cluster nodes are commonly tuned; the job's own --mpi-timeout acts well before either.
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=5 net.ipv4.tcp_keepalive_time=5 \
        net.ipv4.tcp_keepalive_intvl=1 net.ipv4.tcp_keepalive_probes=5
    shape "$ns" eth0
    shape "$switch" "port$i"
    echo "host$i slots=$slots" >>"$hostfile"
    echo "$ns" >"$state/namespace.host$i"
done
# Each host resolves the others by name (ip netns exec binds /etc/netns/NS/hosts over /etc/hosts).
for i in $(seq 1 "$hosts"); do
    mkdir -p "/etc/netns/$id-host$i"
    { echo "127.0.0.1 localhost"; for j in $(seq 1 "$hosts"); do echo "10.77.0.$j host$j"; done; } >"/etc/netns/$id-host$i/hosts"
done
# Entering a host: its network namespace, then a UTS and mount namespace of its own (its host
# name, its --mount binds). `enter HOST --shell CMDLINE...` runs the words joined as one shell
# command line (what ssh does with a remote command); `enter HOST --exec PROGRAM ARGS...` execs.
for i in $(seq 1 "$hosts"); do
    {
        echo '#!/usr/bin/env bash'
        echo "hostname host$i"
        for m in "${mounts[@]}"; do
            IFS=: read -r mh msrc mdst <<<"$m"
            [ "$mh" = "host$i" ] || continue
            printf 'mkdir -p %q && mount --bind %q %q || { echo "emulated-cluster: host%s: cannot bind %s over %s" >&2; exit 1; }\n' \
                "$mdst" "$msrc" "$mdst" "$i" "$msrc" "$mdst"
        done
        echo 'if [ "$1" = --shell ]; then shift; exec bash -c "$*"; fi'
        echo 'shift; exec "$@"'
    } >"$state/inside.host$i"
done
cat >"$state/enter" <<EOF
#!/usr/bin/env bash
ns=\$(cat "$state/namespace.\$1" 2>/dev/null) || { echo "emulated-cluster: no host '\$1' in this cluster" >&2; exit 255; }
host=\$1; shift
exec ip netns exec "\$ns" unshare --uts --mount --propagation private -- bash "$state/inside.\$host" "\$@"
EOF
# Open MPI's launch agent is called as 'agent HOST COMMAND WORDS...', like ssh.
cat >"$state/agent" <<EOF
#!/usr/bin/env bash
host=\$1; shift
exec bash "$state/enter" "\$host" --shell "\$@"
EOF
chmod +x "$state/enter" "$state/agent"
set +e

for c in "${cuts[@]}"; do
    host=${c%@*} after=${c#*@}
    ( sleep "$after"; ip -n "$id-$host" link set eth0 down &&
        echo "emulated-cluster: took $host's link down after $after s (at $(date +%s.%N))" >&2 ) &
    background+=($!)
done

start=$(date +%s.%N)
if [ "$run_mpirun" = 1 ]; then
    launcher=(mpirun --hostfile "$hostfile" -np "$np" --oversubscribe --bind-to none
              --mca plm_rsh_agent "$state/agent" --mca plm_rsh_no_tree_spawn 1
              --mca btl self,vader,tcp --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0
              --mca oob_tcp_keepalive_time 30 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 5)
    [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
    timeout -s KILL "$timeout_s" bash "$state/enter" host1 --exec "${launcher[@]}" "${mpirun_args[@]}" "$@" &
else
    # A shell on the head node that any mpirun can start from: the cluster's hostfile, and the
    # launch agent and interfaces as Open MPI reads them from the environment.
    export COHORT_CLUSTER_HOSTFILE="$hostfile"
    export OMPI_MCA_plm_rsh_agent="$state/agent" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
        OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=eth0 OMPI_MCA_oob_tcp_if_include=eth0 \
        OMPI_MCA_oob_tcp_keepalive_time=30 OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=5 \
        OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
    [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    timeout -s KILL "$timeout_s" bash "$state/enter" host1 --exec "$@" &
fi
# In the background, so a signal to this script tears the cluster down at once (the trap runs
# as soon as wait is interrupted).
job=$!
wait "$job"
status=$?
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
# Daemons may take a while to go after mpirun: one cut off from it ends when its own TCP gives
# up on mpirun (about 13 s, above). Give them 30 s before counting what is left.
left=$(leftover_count)
for _ in $(seq 1 300); do
    [ "$left" = 0 ] && break
    sleep 0.1
    left=$(leftover_count)
done
[ "$status" = 137 ] && status=124
echo "emulated-cluster: job exited with status $status after $elapsed s on $hosts hosts ($link links); processes left in the hosts: $left" >&2
exit "$status"
