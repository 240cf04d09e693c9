//! The performance harness's parts: the Lambda Runtime API emulator, the counting proxy in
//! front of moto, the local-stack load run, the shared request fixtures, the Python peer and the
//! goals verdict. `src/main.rs` runs them and prints the tables; `benches/handler.rs` is the
//! criterion view of the in-process path.

pub mod emulator;
pub mod fixtures;
pub mod load;
pub mod peer;
pub mod proxy;
pub mod stats;
pub mod verdict;
