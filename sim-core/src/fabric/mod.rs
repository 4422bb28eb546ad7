//! The L2 fabric: learning switches for segments, and links with latency, rate,
//! queue, loss and up/down between NICs and switch ports (or two NICs directly).

pub mod link;
pub mod switch;

pub use link::{Link, LinkDrop, LinkParams};
pub use switch::{Forward, Switch};
