"""The ns-3 3.44 program `lvs-lab bench lan-echo` is compared with, to time both on one
machine: one client and N UDP echo servers on one switched segment (each host on its
own 10 Gb/s CSMA link of 10 us to a bridge), the client sending each server a 64-byte
echo every 100 us, `echoes` in total, ARP included, no tracing.

    python3 -m venv /tmp/ns3 && /tmp/ns3/bin/pip install ns3==3.44.post0
    /tmp/ns3/bin/python sim-core/benches/ns3_lan_echo.py [SERVERS] [ECHOES]

Prints the wall time of building the topology and of `Simulator::Run`, and echoes/s
over the run alone (kinder to ns-3 than `lvs-lab bench lan-echo`, whose wall time
includes building the hosts). With NS3_LOG=1 the client logs each echo it receives,
so a small run can be checked: `NS3_LOG=1 ... 10 20 | grep -c received` prints 20.
"""
import os
import sys
import time

from ns import ns

servers = int(sys.argv[1]) if len(sys.argv) > 1 else 10
echoes = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
per_server = echoes // servers

t0 = time.perf_counter()
hosts = ns.NodeContainer()
hosts.Create(servers + 1)
switch = ns.NodeContainer()
switch.Create(1)
csma = ns.CsmaHelper()
csma.SetChannelAttribute("DataRate", ns.DataRateValue(ns.DataRate("10Gbps")))
csma.SetChannelAttribute("Delay", ns.TimeValue(ns.MicroSeconds(10)))
host_devs = ns.NetDeviceContainer()
switch_devs = ns.NetDeviceContainer()
for i in range(servers + 1):
    pair = ns.NodeContainer()
    pair.Add(hosts.Get(i))
    pair.Add(switch.Get(0))
    devs = csma.Install(pair)
    host_devs.Add(devs.Get(0))
    switch_devs.Add(devs.Get(1))
ns.BridgeHelper().Install(switch.Get(0), switch_devs)
ns.InternetStackHelper().Install(hosts)
addresses = ns.Ipv4AddressHelper()
addresses.SetBase(ns.Ipv4Address("10.0.0.0"), ns.Ipv4Mask("255.255.0.0"))
ifaces = addresses.Assign(host_devs)
for i in range(1, servers + 1):
    ns.UdpEchoServerHelper(9).Install(hosts.Get(i)).Start(ns.Seconds(0))
    client = ns.UdpEchoClientHelper(ifaces.GetAddress(i).ConvertTo(), 9)
    client.SetAttribute("MaxPackets", ns.UintegerValue(per_server))
    client.SetAttribute("Interval", ns.TimeValue(ns.MicroSeconds(100)))
    client.SetAttribute("PacketSize", ns.UintegerValue(64))
    client.Install(hosts.Get(0)).Start(ns.Seconds(0))
if os.environ.get("NS3_LOG"):
    ns.LogComponentEnable("UdpEchoClientApplication", ns.LOG_LEVEL_INFO)
t1 = time.perf_counter()
ns.Simulator.Run()
t2 = time.perf_counter()
ns.Simulator.Destroy()
n = per_server * servers
print(f"ns-3 lan-echo: {servers} servers, {n} echoes")
print(f"build            {t1 - t0:.3f} s")
print(f"run              {t2 - t1:.3f} s")
print(f"echoes           {n / (t2 - t1):.0f} echoes/s (run alone)")
