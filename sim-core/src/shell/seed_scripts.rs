//! The seeds' scripts for the tests: the built-in scenarios' copies
//! (`scenarios/scripts/`), and verbatim from `shared/seeds/` the ones no scenario runs.

/// From seed 000 §7.4, `lvs-DR.sh` (the director).
pub(super) const S000_LVS_DR_SH: &str = include_str!("../../../scenarios/scripts/seed000-lvs-DR.sh");

/// From seed 000 §7.4, `rs-DR.sh` (each real server).
pub(super) const S000_RS_DR_SH: &str = include_str!("../../../scenarios/scripts/seed000-rs-DR.sh");

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
pub(super) const S002_LVS_NAT_SH: &str = include_str!("../../../scenarios/scripts/seed002-lvs_nat.sh");

/// From seed 002, `/usr/local/sbin/lvs_dr.sh` (the DR director).
pub(super) const S002_LVS_DR_SH: &str = include_str!("../../../scenarios/scripts/seed002-lvs_dr.sh");

/// From seed 002, `/usr/local/sbin/lvs_rs.sh` (each DR real server).
pub(super) const S002_LVS_RS_SH: &str = include_str!("../../../scenarios/scripts/seed002-lvs_rs.sh");

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
