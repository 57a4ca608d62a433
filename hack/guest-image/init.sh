#!/bin/busybox sh
# PID 1 of the PhotonCloud test guest (hack/guest-image/README.md has the whole contract).
# Everything it says for tests and scripts is a line starting "photon-guest: " on the serial console:
#   ip=<address>            once DHCP is done (ip-error=<why> if no lease came)
#   ping <address> ok|failed for each user-data line "ping <address>"
#   resolve <name> <addresses>|failed for each user-data line "resolve <name>"
#   serve <port> ok|failed  for each user-data line "serve <port> <text>" (an HTTP server in the background)
#   bench-write <dev> <MiB> <ms>|failed…  for each user-data line "bench-write <dev> <MiB>" (raw sequential writes)
#   disk=<text> | disk-empty after the user data ran, on every boot with a data disk
#   ready                   when all of the above is done
#   disk-added=<dev> serial=<serial> sectors=<n>[ text=<text>] | disk-removed=<dev> | disk-resized=<dev> sectors=<n>
#                           later, as disks are hot-plugged, unplugged or grown
# It never exits: PID 1 exiting panics the kernel.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt/data
# Applets as symlinks at run time, so the initramfs carries one busybox file and no link list to keep in step.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The cloud kernel has devtmpfs but does not mount it itself (CONFIG_DEVTMPFS_MOUNT is off).
mount -t devtmpfs devtmpfs /dev
# Kernel messages would otherwise interleave with the marker lines on the same serial console.
echo 1 > /proc/sys/kernel/printk

say() { echo "photon-guest: $*"; }

expected_kernel=$(cat /etc/photon-guest/kernel-release)
if [ "$(uname -r)" != "$expected_kernel" ]; then
  # Modules only load into the kernel they were built for; say so instead of failing obscurely later.
  say "error=kernel $(uname -r) booted, but this image carries modules for $expected_kernel"
fi

# virtio drivers are modules in Debian's cloud kernel; the build wrote them here in dependency order.
while read -r module; do
  [ -n "$module" ] || continue
  file=/lib/photon/modules/$module
  case "$module" in
    *.ko.xz) unxz -c "$file" > /tmp/module.ko && file=/tmp/module.ko ;;
  esac
  insmod "$file" || say "error=insmod $module failed"
done < /lib/photon/modules.order
rm -f /tmp/module.ko

# An ACPI power button press (QMP system_powerdown: a graceful stop) powers the guest off cleanly. busybox
# acpid runs /etc/acpi/PWRF/00000080 for it; PID 1 is this script, not an init that knows poweroff's signal,
# so the handler syncs and powers off itself (-f). Started first, so it listens long before "ready".
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\necho "photon-guest: acpi-poweroff" > /dev/console\nsync\numount /mnt/data 2>/dev/null\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod 755 /etc/acpi/PWRF/00000080
# acpid opens the event devices present when it starts: wait (up to 5 s) for the power button's, which devtmpfs
# creates a little after evdev binds it.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
  button=$(grep -l 'Power Button' /sys/class/input/input*/name 2>/dev/null | head -n 1)
  event=$(ls "${button%/name}" 2>/dev/null | grep '^event' | head -n 1)
  [ -n "$event" ] && [ -e "/dev/input/$event" ] && break
  sleep 0.2
done
acpid -c /etc/acpi -l /dev/null

userdata=
poweroff_after_ready=
datadisk=vda
for word in $(cat /proc/cmdline); do
  case "$word" in
    photon.userdata=*) userdata=${word#photon.userdata=} ;;
    photon.datadisk=*) datadisk=${word#photon.datadisk=} ;;
  esac
done
case "$datadisk" in
  *[!a-z0-9]* | '') say "disk-error=photon.datadisk must name a block device such as vdb"; datadisk=vda ;;
esac
: > /run/userdata
if [ -n "$userdata" ]; then
  echo "$userdata" | base64 -d > /run/userdata 2>/dev/null || say "userdata-error=photon.userdata is not base64"
fi

# Polls (100 ms steps) because drivers bind devices asynchronously after insmod returns.
wait_for() {
  tries=0
  while [ ! -e "$1" ] && [ "$tries" -lt 100 ]; do usleep 100000; tries=$((tries + 1)); done
  [ -e "$1" ]
}

# The data disk: mounted if it holds a filesystem, formatted only when blank (the first MiB all zeroes),
# so a disk with anything else on it is never destroyed.
disk=/dev/$datadisk
disk_ok=
if wait_for "$disk"; then
  if mount "$disk" /mnt/data 2>/dev/null; then
    disk_ok=1
  elif [ -z "$(head -c 1048576 "$disk" | tr -d '\000' | head -c 1)" ]; then
    if mke2fs -q -L photon-data "$disk" >/dev/null 2>&1 && mount "$disk" /mnt/data; then
      disk_ok=1
      say "disk-formatted"
    else
      say "disk-error=formatting $disk failed"
    fi
  else
    say "disk-error=$disk holds data that is not a filesystem this guest can mount; left untouched"
  fi
else
  say "disk-error=no $disk"
fi

ip link set lo up
if wait_for /sys/class/net/eth0; then
  ip link set eth0 up
  rm -f /run/ip
  # -q: quit once bound (leases from QEMU's user network and OVN last far longer than a test guest lives).
  udhcpc -i eth0 -s /etc/photon-guest/udhcpc.sh -n -q -t 20 -T 1 >/dev/null 2>&1
  if [ -s /run/ip ]; then
    say "ip=$(cat /run/ip)"
  else
    say "ip-error=no DHCP lease on eth0"
  fi
else
  say "ip-error=no eth0"
fi

# User data, one command a line, in order.
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    '' | '#'*) ;;
    'ping '*)
      target=${line#ping }
      # Only address or host name characters reach ping's argument vector.
      case "$target" in
        *[!0-9A-Za-z.:-]* | '' | -*) say "ping $target failed" ;;
        *)
          if ping -c 3 -w 6 "$target" >/dev/null 2>&1; then say "ping $target ok"; else say "ping $target failed"; fi
          ;;
      esac
      ;;
    'resolve '*)
      # The name through the resolver DHCP named (/etc/resolv.conf), A records only: one line with every address.
      target=${line#resolve }
      case "$target" in
        *[!0-9A-Za-z.-]* | '' | -*) say "resolve $target failed" ;;
        *)
          addresses=$(nslookup -type=a "$target" 2>/dev/null | sed -n '/^Name:/,$ s/^Address: *//p' | tr '\n' ' ')
          if [ -n "$addresses" ]; then say "resolve $target ${addresses% }"; else say "resolve $target failed"; fi
          ;;
      esac
      ;;
    'serve '*)
      # An HTTP server in the background (busybox httpd): "serve <port> <text>" answers <text> on / and ok on /healthz.
      set -- ${line#serve }
      case "$1:$2" in
        *[!0-9A-Za-z.:-]* | :* | *:) say "serve $1 failed" ;;
        *)
          mkdir -p /www
          printf '%s\n' "$2" > /www/index.html
          printf 'ok\n' > /www/healthz
          if httpd -p "$1" -h /www; then say "serve $1 ok"; else say "serve $1 failed"; fi
          ;;
      esac
      ;;
    'write '*)
      if [ -n "$disk_ok" ]; then
        printf '%s\n' "${line#write }" > /mnt/data/photon-guest.txt
        # The host may kill QEMU right after "ready": the text must already be on the disk.
        sync
      else
        say "write-error=no data disk"
      fi
      ;;
    'bench-write '*)
      # Sequential writes straight to a raw disk, for benchmarks: "bench-write <dev> <MiB>" writes <MiB> MiB of
      # zeroes to /dev/<dev> from its start in 1 MiB blocks (O_DIRECT, fsync at the end) and prints the time
      # taken in milliseconds (/proc/uptime, 10 ms steps). Destroys what the disk held, so a mounted disk (the
      # data disk) and one smaller than <MiB> are refused.
      set -f
      set -- ${line#bench-write }
      set +f
      dev=${1-} mib=${2-}
      case "$#:$dev:$mib" in
        2:vd[a-z]:[1-9] | 2:vd[a-z]:[1-9][0-9] | 2:vd[a-z]:[1-9][0-9][0-9] | 2:vd[a-z]:[1-9][0-9][0-9][0-9] | 2:vd[a-z]:[1-9][0-9][0-9][0-9][0-9])
          if ! wait_for "/dev/$dev"; then
            say "bench-write $dev $mib failed: no /dev/$dev"
          elif grep -q "^/dev/$dev " /proc/mounts; then
            say "bench-write $dev $mib failed: /dev/$dev is mounted"
          elif [ $((mib * 2048)) -gt "$(cat "/sys/block/$dev/size")" ]; then
            say "bench-write $dev $mib failed: /dev/$dev is smaller than $mib MiB"
          else
            up=$(cut -d ' ' -f 1 /proc/uptime)
            if dd if=/dev/zero of="/dev/$dev" bs=1M count="$mib" oflag=direct conv=fsync 2>/dev/null; then
              done_at=$(cut -d ' ' -f 1 /proc/uptime)
              # Centiseconds without the dot (and without leading zeroes, which $(( )) would read as octal).
              start_cs=$(echo "$up" | tr -d . | sed 's/^0*//') end_cs=$(echo "$done_at" | tr -d . | sed 's/^0*//')
              say "bench-write $dev $mib $(((${end_cs:-0} - ${start_cs:-0}) * 10))"
            else
              say "bench-write $dev $mib failed: dd failed"
            fi
          fi
          ;;
        *) say "bench-write failed: expected bench-write <vdX> <MiB 1-99999>" ;;
      esac
      ;;
    poweroff) poweroff_after_ready=1 ;;
    *) say "userdata-error=unknown command: $line" ;;
  esac
done < /run/userdata

if [ -n "$disk_ok" ]; then
  if [ -f /mnt/data/photon-guest.txt ]; then
    say "disk=$(head -n 1 /mnt/data/photon-guest.txt)"
  else
    say "disk-empty"
  fi
fi
sync
say "ready"

# The guest's own poweroff (user data "poweroff"), as a guest OS shutting itself down would.
if [ -n "$poweroff_after_ready" ]; then
  say "poweroff"
  sync
  umount /mnt/data 2>/dev/null
  poweroff -f
fi

# Disks plugged, unplugged or grown from now on (Volumes the host hot-plugs or grows online): a line each, with
# the serial number the host gave (the attachment's name), its size in 512-byte sectors and, when it holds this
# guest's filesystem, the text last written there (mounted read-only, then unmounted).
disks() { for dev in $(ls /sys/block | grep '^vd'); do printf '%s:%s ' "$dev" "$(cat "/sys/block/$dev/size")"; done; }
known=$(disks)
mkdir -p /mnt/hot
while :; do
  sleep 1
  now=$(disks)
  [ "$now" = "$known" ] && continue
  for entry in $now; do
    dev=${entry%%:*}
    case " $known " in
      *" $entry "*) ;;
      *" $dev:"*) say "disk-resized=$dev sectors=${entry#*:}" ;;
      *)
        text=
        if mount -o ro "/dev/$dev" /mnt/hot 2>/dev/null; then
          [ -f /mnt/hot/photon-guest.txt ] && text=" text=$(head -n 1 /mnt/hot/photon-guest.txt)"
          umount /mnt/hot
        fi
        say "disk-added=$dev serial=$(cat "/sys/block/$dev/serial" 2>/dev/null) sectors=${entry#*:}$text"
        ;;
    esac
  done
  for entry in $known; do
    dev=${entry%%:*}
    case " $now " in *" $dev:"*) ;; *) say "disk-removed=$dev" ;; esac
  done
  known=$now
done
