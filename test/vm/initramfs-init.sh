#!/bin/busybox sh
# PID 1 of a Debian kernel's initramfs: load the modules (9p first, in dependency order, then
# the network ones), mount the host's root over 9p read-only and hand over to guest-init.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/*.ko*; do insmod "$m" 2>/dev/null; done
opts=$(sed -n 's/.*rootflags=\([^ ]*\).*/\1/p' /proc/cmdline)
init=$(sed -n 's/.*fl.init=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o "$opts" /dev/root /newroot || { echo "@@FL-EXIT:125@@ 9p mount failed"; echo o > /proc/sysrq-trigger; }
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot "$init"
