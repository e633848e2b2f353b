#!/bin/sh
# Runs inside the VM as PID 1 on the host's read-only root: mounts what tests need, brings
# loopback up, runs the job's command in its directory with the caller's environment, prints
# the exit-status marker the host parses, and powers off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mounted() { grep -q "^[^ ]* $1 " /proc/mounts; } # busybox has no mountpoint applet
mounted /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
job=$(sed -n 's/.*fl.job=\([^ ]*\).*/\1/p' /proc/cmdline)
# A checkout under /tmp (a user's `mktemp -d` clone) would be hidden by the guest's tmpfs /tmp:
# the host's /tmp stays reachable at /run/.fl-host-tmp, and keep() binds back, at the same path,
# the directory under /tmp that holds the job or the command's directory.
if ! mounted /tmp; then # a foreign-arch root has it already, with binds inside
  mkdir -p /run/.fl-host-tmp && mount --bind /tmp /run/.fl-host-tmp
  mount -t tmpfs tmp /tmp
fi
keep() {
  case "$1" in /tmp/?*) ;; *) return ;; esac
  top=$(echo "$1" | cut -d/ -f1-3)
  [ -e "$top" ] || { mkdir -p "$top" && mount --bind "/run/.fl-host-tmp/${top#/tmp/}" "$top"; }
}
keep "$job"
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Pin the static keys that cgroup controllers switch on and off: cpuset's sits in the page
# allocator. With controllers on in the root's subtree (runc turns them all on, and leaves them),
# every cgroup a test makes and removes (faultline's per-process target cgroups) patches that code,
# and QEMU's multi-threaded TCG can then run a stale translation of it: Oops: int3 in
# __alloc_pages / get_page_from_freelist, twice in one debian-6.12 run. With every controller on
# from the start and one cgroup that stays, no such key ever drops back to zero.
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done 2>/dev/null
mkdir -p /sys/fs/cgroup/fl-vm-pinned
ip link set lo up
# The job dir is on the read-only root. The command's directory gets a writable overlay
# (upper layer in the guest's tmpfs): tools write caches next to the code (vite's .vite-temp).
. "$job/env.sh"
keep "$FL_CWD"
# The host's CA bundle is not in a foreign-arch root: Node would warn about it on every start.
[ -z "$NODE_EXTRA_CA_CERTS" ] || [ -e "$NODE_EXTRA_CA_CERTS" ] || unset NODE_EXTRA_CA_CERTS
mkdir -p /tmp/.fl-overlay/up /tmp/.fl-overlay/work
mount -t overlay overlay -o "lowerdir=$FL_CWD,upperdir=/tmp/.fl-overlay/up,workdir=/tmp/.fl-overlay/work" "$FL_CWD" 2>/dev/null
cd "$FL_CWD" || { echo "@@FL-EXIT:125@@ no such directory $FL_CWD"; echo o > /proc/sysrq-trigger; }
echo "@@FL-START@@"
sh "$job/cmd.sh" </dev/null
echo "@@FL-EXIT:$?@@"
sync
echo o > /proc/sysrq-trigger
sleep 10
