//! The pcapng writer: one Interface Description Block per NIC, Enhanced Packet Blocks with direction flags and trace ids.
