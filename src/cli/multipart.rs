//! Incomplete multipart uploads: listed and aborted by `check`, aborted by `clean`.

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::diagnose::{Diagnosis, diagnose_sdk, is_unsupported};
use super::target::Target;
use super::timed;

/// An open multipart upload.
#[derive(Clone, Debug)]
pub(super) struct Incomplete {
    pub(super) key: String,
    pub(super) upload_id: String,
    pub(super) initiated: String,
    pub(super) initiated_secs: Option<i64>,
}

pub(super) enum Listing {
    Found(Vec<Incomplete>),
    Unsupported,
    Failed(Diagnosis),
}

/// The incomplete multipart uploads whose key starts with `prefix` (all of them when it is empty).
pub(super) async fn list_incomplete_uploads(target: &Target, prefix: &str) -> Listing {
    let mut uploads = Vec::new();
    let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
    loop {
        let page = timed(
            target
                .client()
                .list_multipart_uploads()
                .bucket(target.bucket())
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send(),
        )
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(err)) if is_unsupported(&err) => return Listing::Unsupported,
            Ok(Err(err)) => {
                let mut diagnosis = diagnose_sdk("ListMultipartUploads", err, target.context());
                diagnosis.hint = format!(
                    "{}\n(listing them needs s3:ListBucketMultipartUploads; a lifecycle rule aborts them anyway)",
                    diagnosis.hint
                );
                return Listing::Failed(diagnosis);
            }
            Err(timeout) => return Listing::Failed(timeout.diagnosis(target.context())),
        };
        // Filtered here too: a store that ignored the prefix must not make `clean` abort other data's uploads.
        let in_scope = page
            .uploads()
            .iter()
            .filter(|u| u.key().is_some_and(|key| key.starts_with(prefix)));
        uploads.extend(in_scope.map(|u| {
            Incomplete {
                key: u.key().unwrap_or_default().to_owned(),
                upload_id: u.upload_id().unwrap_or_default().to_owned(),
                initiated: u
                    .initiated()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_else(|| "unknown".to_owned()),
                initiated_secs: u.initiated().map(|t| t.secs()),
            }
        }));
        if page.is_truncated() != Some(true) {
            return Listing::Found(uploads);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        upload_id_marker = page.next_upload_id_marker().map(str::to_owned);
        if key_marker.is_none() && upload_id_marker.is_none() {
            return Listing::Found(uploads);
        }
    }
}

/// Aborts `uploads`; returns how many were aborted and why the others were not.
pub(super) async fn abort_uploads(
    target: &Target,
    uploads: &[&Incomplete],
) -> (usize, Vec<Diagnosis>) {
    let mut aborted = 0;
    let mut failures = Vec::new();
    for upload in uploads {
        let result = timed(
            target
                .client()
                .abort_multipart_upload()
                .bucket(target.bucket())
                .key(&upload.key)
                .upload_id(&upload.upload_id)
                .send(),
        )
        .await;
        match result {
            Ok(Ok(_)) => aborted += 1,
            // Already gone (completed or aborted meanwhile): nothing left to do.
            Ok(Err(err)) if err.code() == Some("NoSuchUpload") => aborted += 1,
            Ok(Err(err)) => {
                failures.push(diagnose_sdk("AbortMultipartUpload", err, target.context()))
            }
            Err(timeout) => failures.push(timeout.diagnosis(target.context())),
        }
    }
    (aborted, failures)
}
