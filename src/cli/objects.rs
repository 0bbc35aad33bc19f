//! The objects under a prefix, counted and deleted, for `clean`.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::storage::StoreError;

use super::diagnose::{Diagnosis, diagnose_store_error};
use super::target::Target;

/// How many objects start with `prefix`, and their bytes.
pub(super) async fn count_objects(target: &Target, prefix: &str) -> Result<(u64, u64), Diagnosis> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut pages = target
        .client()
        .list_objects_v2()
        .bucket(target.bucket())
        .set_prefix(list_prefix(prefix))
        .into_paginator()
        .send();
    while let Some(page) = target.next_page("ListObjectsV2", pages.next()).await? {
        for object in page
            .contents()
            .iter()
            .filter(|o| o.key().is_some_and(|key| key.starts_with(prefix)))
        {
            count += 1;
            bytes += object.size().map_or(0, |s| u64::try_from(s).unwrap_or(0));
        }
    }
    Ok((count, bytes))
}

/// Deletes every object that starts with `prefix`, 1,000 (one listing page, one DeleteObjects) at a time. On
/// failure, returns how many were deleted before it.
pub(super) async fn delete_objects(target: &Target, prefix: &str) -> Result<u64, (u64, Diagnosis)> {
    let mut deleted = 0u64;
    let mut pages = target
        .client()
        .list_objects_v2()
        .bucket(target.bucket())
        .max_keys(1000)
        .set_prefix(list_prefix(prefix))
        .into_paginator()
        .send();
    loop {
        let page = match target.next_page("ListObjectsV2", pages.next()).await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(deleted),
            Err(diagnosis) => return Err((deleted, diagnosis)),
        };
        let objects: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            // Checked here too: a store that ignored the prefix must not make `clean` delete other data.
            .filter(|key| key.starts_with(prefix))
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if objects.is_empty() {
            continue;
        }
        let batch = objects.len() as u64;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|err| {
                (
                    deleted,
                    Diagnosis {
                        detail: format!("cannot build DeleteObjects: {err}"),
                        hint: "this is a bug; please report it".to_owned(),
                    },
                )
            })?;
        let request = target
            .client()
            .delete_objects()
            .bucket(target.bucket())
            .delete(delete)
            .send();
        let output = target
            .call("DeleteObjects", request)
            .await
            .map_err(|diagnosis| (deleted, diagnosis))?;
        let errors = output.errors();
        deleted += batch - errors.len() as u64;
        if let Some(first) = errors.first() {
            let error = StoreError::Rejected {
                operation: "DeleteObjects",
                code: first.code().unwrap_or("Unknown").to_owned(),
                detail: first.message().unwrap_or_default().to_owned(),
            };
            let mut diagnosis = diagnose_store_error(&error, "DeleteObjects", target.context());
            diagnosis.detail = format!(
                "{} object(s) not deleted, e.g. `{}`: {}",
                errors.len(),
                first.key().unwrap_or_default(),
                diagnosis.detail
            );
            return Err((deleted, diagnosis));
        }
    }
}

/// ListObjectsV2's `prefix`: none for the whole bucket.
fn list_prefix(prefix: &str) -> Option<String> {
    (!prefix.is_empty()).then(|| prefix.to_owned())
}
