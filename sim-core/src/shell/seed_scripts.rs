//! The seeds' scripts, copied verbatim from `shared/seeds/` for the tests.

/// From seed 000 §7.4, `lvs-DR.sh` (the director).
pub(super) const S000_LVS_DR_SH: &str = r##"# 安装LVS机器（即DirectorServer）脚本, lvs-DR.sh
# 设置VIP，并设置转发规则

#!/bin/sh

VIP=10.15.144.120
RIP1=10.15.144.102
RIP2=10.15.144.103
RIP3=10.15.144.104

. /etc/rc.d/init.d/functions
case "$1" in
    start)
        echo " start LVS of Director Server"
        /sbin/ifconfig eth0:1 $VIP broadcast $VIP netmask 255.255.255.255 up # 添加虚拟设备eth0:1和虚拟IP
        /sbin/route add -host $VIP dev eth0:1
        echo "1" >/proc/sys/net/ipv4/ip_forward # 允许转发

        /sbin/ipvsadm -C   #Clear IPVS table
        #set LVS
        /sbin/ipvsadm -A -t $VIP:10087 -s wrr -p 60 
        /sbin/ipvsadm -a -t $VIP:10087 -r $RIP1 -g -w 2 # -g 为DR模式， -w 为权重
        /sbin/ipvsadm -a -t $VIP:10087 -r $RIP2 -g -w 1
        /sbin/ipvsadm -a -t $VIP:10087 -r $RIP3 -g -w 1

        /sbin/ipvsadm  # 打印 ipvs 信息
    ;;
    stop)
        echo "close LVS Directorserver"
        echo "0" >/proc/sys/net/ipv4/ip_forward
        /sbin/ipvsadm -C
        /sbin/ifconfig eth0:1 down
    ;;
    *)
        echo "Usage: $0 {start|stop}"
        exit 1
esac
"##;

/// From seed 000 §7.4, `rs-DR.sh` (each real server).
pub(super) const S000_RS_DR_SH: &str = r##"# 在3台RealServer上，配置VIP，关闭对该VIP的ARP应答，所执行的脚本: rs-DR.sh
#!/bin/bash

VIP=10.15.144.120

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
"##;

/// From seed 000 §8 (3), `nat.sh` (a NAT real server), first line `// nat.sh` included.
pub(super) const S000_NAT_SH: &str = r##"// nat.sh
#!/bin/bash
#description : Start Real Server
VIP=172.18.1.11
GW=172.18.1.254

. /etc/rc.d/init.d/functions

case "$1" in
    start)
        echo " Start LVS of RealServer"
        /sbin/ifconfig eth0:2 $VIP broadcast $VIP netmask 255.255.255.0 up
        /sbin/route add default gw $GW
    ;;

    stop)
        echo "Stop LVS of RealServer"
        /sbin/ifconfig eth0:2 down
        /sbin/route del default gw $GW
    ;;

    *)
        echo "Usage: $0 {start|stop}"
        exit 1
esac
"##;

/// From seed 002, `/usr/local/sbin/lvs_nat.sh` (the NAT director).
pub(super) const S002_LVS_NAT_SH: &str = r##"#! /bin/bash
# director 服务器上开启路由转发功能
echo 1 > /proc/sys/net/ipv4/ip_forward
# 关闭icmp的重定向
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects #暂时没有发现有什么用
echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
# 注意区分网卡名字，两个网卡分别为ens33和ens37
echo 0 > /proc/sys/net/ipv4/conf/ens33/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/ens37/send_redirects
# director 设置nat防火墙
iptables -t nat -F
iptables -t nat -X
iptables -t nat -A POSTROUTING -s 192.168.31.0/24  -j MASQUERADE
# director设置ipvsadm
IPVSADM='/usr/sbin/ipvsadm'
$IPVSADM -C
$IPVSADM -A -t 192.168.0.20:80 -s wlc -p 3
$IPVSADM -a -t 192.168.0.20:80 -r 192.168.31.21:80 -m -w 1
$IPVSADM -a -t 192.168.0.20:80 -r 192.168.31.22:80 -m -w 1
"##;

/// From seed 002, `/usr/local/sbin/lvs_dr.sh` (the DR director).
pub(super) const S002_LVS_DR_SH: &str = r##"
#! /bin/bash
echo 1 > /proc/sys/net/ipv4/ip_forward
ipv=/usr/sbin/ipvsadm
vip=192.168.31.100
rs1=192.168.31.21
rs2=192.168.31.22
#注意这里的网卡名字
ifconfig ens33:2 $vip broadcast $vip netmask 255.255.255.255 up
route add -host $vip dev ens33:2
$ipv -C
$ipv -A -t $vip:80 -s wrr
$ipv -a -t $vip:80 -r $rs1:80 -g -w 1
$ipv -a -t $vip:80 -r $rs2:80 -g -w 1


"##;

/// From seed 002, `/usr/local/sbin/lvs_rs.sh` (each DR real server).
pub(super) const S002_LVS_RS_SH: &str = r##"#/bin/bash
vip=192.168.31.100
#把vip绑定在lo上，是为了实现rs直接把结果返回给客户端
ifconfig lo:0 $vip broadcast $vip netmask 255.255.255.255 up
route add -host $vip lo:0
#以下操作为更改arp内核参数，目的是为了让rs顺利发送mac地址给客户端
#参考文档www.cnblogs.com/lgfeng/archive/2012/10/16/2726308.html
echo "1" >/proc/sys/net/ipv4/conf/lo/arp_ignore
echo "2" >/proc/sys/net/ipv4/conf/lo/arp_announce
echo "1" >/proc/sys/net/ipv4/conf/all/arp_ignore
echo "2" >/proc/sys/net/ipv4/conf/all/arp_announce
"##;

/// From seed 004, `/usr/local/sbin/lvs-dr.sh` (leading and trailing blanks as published).
pub(super) const S004_LVS_DR_SH: &str = r##" #!/bin/bash 
 # description: start LVS of DirectorServer 
GW=192.168.90.254 
 # website director vip. 
 WEB_VIP=192.168.90.200 
 WEB_RIP1=192.168.90.220 
 WEB_RIP2=192.168.90.221 
 . /etc/rc.d/init.d/functions 
 logger $0 called with $1 
 case "$1" in 
 start) 
         # Clear all iptables rules. 
         /sbin/iptables -F 
         # Reset iptables counters. 
         /sbin/iptables -Z 
         # Clear all ipvsadm rules/services. 
         /sbin/ipvsadm -C 
 #set lvs vip for dr 
         /sbin/ipvsadm --set 30 5 60 
         /sbin/ifconfig eth0:0 $WEB_VIP broadcast $WEB_VIP netmask 255.255.255.255 up 
         /sbin/route add -host $WEB_VIP dev eth0:0 
         /sbin/ipvsadm -A -t $WEB_VIP:80 -s wrr -p 3 
         /sbin/ipvsadm -a -t $WEB_VIP:80 -r $WEB_RIP1:80 -g -w 1 
         /sbin/ipvsadm -a -t $WEB_VIP:80 -r $WEB_RIP2:80 -g -w 1 
         touch /var/lock/subsys/ipvsadm >/dev/null 2>&1 
         # set Arp 
         /sbin/arping -I eth0 -c 5 -s $WEB_VIP $GW >/dev/null 2>&1 
         /sbin/ipvsadm -ln 
       ;; 
 stop) 
         /sbin/ipvsadm -C 
         /sbin/ipvsadm -Z 
         ifconfig eth0:0 down 
         route del $WEB_VIP  >/dev/null 2>&1 
         rm -rf /var/lock/subsys/ipvsadm >/dev/null 2>&1 
         /sbin/arping -I eth0 -c 5 -s $WEB_VIP $GW 
         echo "ipvsadm stoped" 
        ;; 
 status) 
         if [ ! -e /var/lock/subsys/ipvsadm ];then 
                 echo "ipvsadm is stoped" 
                 exit 1 
         else 
                 ipvsadm -ln 
                 echo "..........ipvsadm is OK." 
         fi 
       ;; 
 *) 
         echo "Usage: $0 {start|stop|status}" 
         exit 1 
 esac 
 exit 0 
#------------------------The end of the Scripts------------------------------------------- 
"##;

/// From seed 004, the lines added to each real server's `/etc/sysctl.conf`.
pub(super) const S004_SYSCTL_CONF: &str = r##"net.ipv4.ip_forward=1 
net.ipv4.conf.lo.arp_ignore = 1 
net.ipv4.conf.lo.arp_announce = 2 
net.ipv4.conf.all.arp_ignore = 1 
net.ipv4.conf.all.arp_announce = 2 
"##;
