//! The crate-wide error: one enum the shells can print as a single line and map to an exit code.

use crate::accounts::AccountError;
use crate::store::StoreError;

/// Any failure of a core operation. Each variant's message says what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Area(#[from] crate::areas::AreaError),
}
