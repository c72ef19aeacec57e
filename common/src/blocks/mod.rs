//! The blocks module both drivers share: ids and masks, the wire envelope, and the schema.
pub mod crc32;
pub mod mask;
pub mod schema;
pub mod wire;

pub use mask::{AtomicBlockMask, BlockId, BlockMask};
pub use schema::*;
pub use wire::{BlockError, BlockHeader, HEADER_LEN, MAX_BLOCK_LEN};
