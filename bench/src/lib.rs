//! The performance harness's parts: the Lambda Runtime API emulator, the counting proxy in
//! front of moto, the local-stack load run and the shared request fixtures. `src/main.rs` runs
//! them and prints one table; `benches/handler.rs` is the criterion view of the in-process path.

pub mod emulator;
pub mod fixtures;
pub mod load;
pub mod proxy;
pub mod stats;
