//! Tests against the seed configurations and keepalived behaviours.
