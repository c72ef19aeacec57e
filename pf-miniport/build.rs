//! The driver image's link setup, shared with the other driver: see common/driver_build.rs.
include!("../common/driver_build.rs");
