#!/bin/busybox sh
# PID 1 of a Debian kernel's initramfs: load the modules (9p first, in dependency order, then
# the network ones), mount the root over 9p read-only and hand over to guest-init.sh.
# The root is the host's, or (fl.userland: a guest of another architecture, see userland.mjs)
# that arch's userland under a tmpfs overlay, with the host's root at /host and the paths the
# job needs (fl.binds, colon-separated: the checkout, the job, the command's directory) bound
# from there at the same paths.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/*.ko*; do insmod "$m" 2>/dev/null; done
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
opts=$(arg rootflags)
init=$(arg fl.init)
fail() { echo "@@FL-EXIT:125@@ $1"; echo o > /proc/sysrq-trigger; sleep 10; }
if grep -q 'fl.userland' /proc/cmdline; then
  mkdir -p /lower /rw /newroot
  mount -t 9p -o "$opts" fl-userland /lower || fail "9p mount of the userland failed"
  mount -t tmpfs rw /rw && mkdir -p /rw/up /rw/work
  mount -t overlay -o lowerdir=/lower,upperdir=/rw/up,workdir=/rw/work overlay /newroot || fail "overlay root failed"
  mkdir -p /newroot/host /newroot/tmp /newroot/dev
  mount -t 9p -o "$opts" /dev/root /newroot/host || fail "9p mount of the host root failed"
  mount -t tmpfs tmp /newroot/tmp
  for p in $(arg fl.binds | tr ':' ' '); do
    mkdir -p "/newroot$p" && mount --bind "/newroot/host$p" "/newroot$p" || fail "cannot bind $p"
  done
  # busybox applets (sh, mount, sed...) where the packages left gaps; iproute2's ip and tc stay.
  chroot /newroot /bin/busybox --list-full | while read -r a; do
    for d in bin sbin usr/bin usr/sbin usr/local/bin; do [ -e "/newroot/$d/${a##*/}" ] && continue 2; done
    mkdir -p "/newroot/${a%/*}" && ln -s /bin/busybox "/newroot/$a"
  done
else
  mount -t 9p -o "$opts" /dev/root /newroot || fail "9p mount failed"
fi
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot "$init"
