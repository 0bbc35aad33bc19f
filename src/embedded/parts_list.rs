//! ListParts from the store's own records: s3s-fs 0.14.1 lists only its part files (parts written in place, in
//! the staging file, are missing), gives no ETags, and panics on a part file name that is not a number. A
//! browser resuming a direct upload (`@uppy/aws-s3`) lists the parts to skip those already sent.

use s3s::dto::{ListPartsInput, ListPartsOutput, Part};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::store::CheckedFs;

/// A recorded part: its number, MD5, and staged length (`None`: in s3s-fs's own part file).
type Recorded = (i32, [u8; 16], Option<u64>);

impl CheckedFs {
    /// The recorded parts of the upload, by number: size (staged length, or s3s-fs's part file's length) and
    /// ETag (the part's MD5, as UploadPart answered it).
    pub(super) async fn list_recorded_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let recorded: Option<Vec<Recorded>> = {
            let uploads = self.uploads();
            uploads
                .get(&input.upload_id)
                .filter(|r| r.bucket == input.bucket && r.key == input.key)
                .map(|record| {
                    let mut parts: Vec<_> = record
                        .parts
                        .iter()
                        .map(|(n, p)| (*n, p.md5, p.staged))
                        .collect();
                    parts.sort_unstable_by_key(|(n, _, _)| *n);
                    parts
                })
        };
        let Some(recorded) = recorded else {
            return Err(s3_error!(NoSuchUpload));
        };
        let mut parts = Vec::with_capacity(recorded.len());
        for (number, md5, staged) in recorded {
            let size = match staged {
                Some(len) => len,
                None => {
                    let file = self
                        .root
                        .join(format!(".upload_id-{}.part-{number}", input.upload_id));
                    match tokio::fs::metadata(&file).await {
                        Ok(meta) => meta.len(),
                        // Recorded but gone (aborted meanwhile): not a part any more.
                        Err(_) => continue,
                    }
                }
            };
            let etag: String = md5.iter().map(|b| format!("{b:02x}")).collect();
            parts.push(Part {
                part_number: Some(number),
                size: Some(i64::try_from(size).unwrap_or(i64::MAX)),
                e_tag: Some(s3s::dto::ETag::Strong(etag)),
                ..Default::default()
            });
        }
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            parts: Some(parts),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }
}
