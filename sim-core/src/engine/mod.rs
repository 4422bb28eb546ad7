//! The discrete-event kernel: simulated time, the (time, seq) event queue, the run loop and its limits.
