//! An upload's stored type (design 4): decided by the route from the first bytes, recorded before the first
//! part or PutObject of the object, so that the object is stored as `POST /upload` would store it.

use uuid::Uuid;

use super::append::stamp;
use super::cas::{CasError, InfoStore};
use super::info::{State, UploadId};

/// How many times the record is re-read when another write came first.
const TRIES: usize = 3;

impl InfoStore {
    /// Records the type and disposition upload `id`'s object will be stored with. A type already recorded
    /// stands (another request decided first), as does an upload that takes no more bytes.
    pub async fn record_type(
        &self,
        id: &UploadId,
        content_type: &str,
        content_disposition: &str,
    ) -> Result<(), CasError> {
        for _ in 0..TRIES {
            let (mut info, etag) = self.read(id).await?;
            if info.content_type.is_some() || info.state != State::Receiving {
                return Ok(());
            }
            info.content_type = Some(content_type.to_owned());
            info.content_disposition = Some(content_disposition.to_owned());
            stamp(&mut info, Uuid::now_v7());
            match self.replace(&info, &etag).await {
                Ok(_) => return Ok(()),
                Err(CasError::Lost) => {}
                Err(err) => return Err(err),
            }
        }
        Err(CasError::Lost)
    }
}
