//! Provider webhook intake. `verify` checks each provider's signature scheme over the exact raw
//! body; intake, recording and processing build on it.

pub mod admin;
pub mod intake;
pub mod process;
pub mod verify;
