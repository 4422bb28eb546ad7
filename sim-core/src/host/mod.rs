//! The machines of a scenario: a Linux stack, its apps, and optionally IPVS and keepalived.
