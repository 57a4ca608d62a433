#!/bin/busybox sh
# udhcpc's event script (busybox calls it with the event and the lease in the environment): configure eth0
# from the lease and leave the address in /run/ip for init to print.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route del default 2>/dev/null
      for gateway in $router; do ip route add default via "$gateway" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    echo "$ip" > /run/ip
    ;;
esac
exit 0
