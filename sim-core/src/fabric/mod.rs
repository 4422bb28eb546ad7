//! The L2 fabric: learning switches for segments, links with latency, rate, queue, loss and up/down.
