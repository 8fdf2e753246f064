//! imgtool: builds, validates and publishes the images of a VPN teaching
//! testbed, and runs that testbed on any laptop.
pub mod scenario;
pub mod engine;
pub mod config;
pub mod nodefiles;
