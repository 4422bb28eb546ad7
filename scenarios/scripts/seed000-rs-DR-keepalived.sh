# 在3台RealServer上，配置VIP，关闭对该VIP的ARP应答，所执行的脚本: rs-DR.sh
# (lvs-lab: seed 000 section 7.4's rs-DR.sh with VIP set to section 8's 10.15.62.208, the only change; section 8 prints no real-server script)
#!/bin/bash

VIP=10.15.62.208

. /etc/rc.d/init.d/functions
case "$1" in
    start)
        echo " Start LVS  of  Real Server"
        /sbin/ifconfig lo:0 $VIP netmask 255.255.255.255 broadcast $VIP up
        /sbin/route add -host $VIP dev lo:0
        # 忽略收到的arp广播
        echo "1" >/proc/sys/net/ipv4/conf/lo/arp_ignore   
        # 封装数据包时，忽略源ip(lvs服务器ip),而是将VIP做为源ip
        echo "2" >/proc/sys/net/ipv4/conf/lo/arp_announce  
        echo "1" >/proc/sys/net/ipv4/conf/all/arp_ignore
        echo "2" >/proc/sys/net/ipv4/conf/all/arp_announce
        sysctl -p > /dev/null 2>&1
        ;;
    stop)
        /sbin/ifconfig lo:0 down
        echo "close LVS Director server"
        route del $VIP > /dev/null 2>&1
        echo "0" >/proc/sys/net/ipv4/conf/lo/arp_ignore
        echo "0" >/proc/sys/net/ipv4/conf/lo/arp_announce
        echo "0" >/proc/sys/net/ipv4/conf/all/arp_ignore
        echo "0" >/proc/sys/net/ipv4/conf/all/arp_announce
        ;;
    *)
        echo "Usage: $0 {start|stop}"
        exit 1
esac
