//! Setup scripts as people type them: a small shell and typed parsers for ip, ifconfig, route, sysctl, arping, iptables.
