//! The performance harness's parts: the Lambda Runtime API emulator (from rampart-tests), the
//! counting proxy in front of moto, spawning and measuring a subject under them, the local-stack
//! load run, the shared request fixtures, the peers (Python and Node.js), the goals and their
//! verdict. `src/main.rs` runs them and prints the tables; `benches/handler.rs` is the criterion
//! view of the in-process path.

/// The Lambda Runtime API emulator, shared with the deployed-shape test (`tests/src/emulator.rs`).
pub use rampart_tests::emulator;
pub mod fixtures;
pub mod goals;
pub mod load;
pub mod measure;
pub mod peer;
pub mod proxy;
pub mod stats;
pub mod verdict;
