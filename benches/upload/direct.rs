//! The direct references (one PutObject, one multipart upload straight to the store) and the checks of what
//! every side stored.

use super::*;

impl Bench {
    /// The direct reference: one PutObject with the server's client settings, through `s3` (the store's client,
    /// or the relay's).
    pub(crate) async fn put(
        &self,
        s3: &Client,
        key: &str,
        data: &Bytes,
        pace: Option<u64>,
    ) -> anyhow::Result<()> {
        let body = match pace {
            None => ByteStream::from(data.clone()),
            Some(_) => {
                let frames = (0..data.len())
                    .step_by(PACED_FRAME)
                    .map(|at| data.slice(at..(at + PACED_FRAME).min(data.len())))
                    .collect();
                let stream = paced(frames, pace).map_ok(http_body::Frame::data);
                ByteStream::new(aws_smithy_types::body::SdkBody::from_body_1_x(
                    http_body_util::StreamBody::new(stream),
                ))
            }
        };
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .content_length(data.len() as i64)
            .content_type("application/octet-stream")
            .body(body)
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .context("PutObject")?;
        Ok(())
    }

    /// The direct multipart reference: the server's part size and parts in flight, no proxy.
    /// Returns how long CompleteMultipartUpload took.
    pub(crate) async fn put_multipart(&self, key: &str, data: &Bytes) -> anyhow::Result<Duration> {
        let upload_id = self
            .s3
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .content_type("application/octet-stream")
            .send()
            .await
            .context("CreateMultipartUpload")?
            .upload_id
            .context("no upload id")?;
        let part_size = self.part_size as usize;
        let count = data.len().div_ceil(part_size);
        let mut parts: Vec<CompletedPart> = futures_util::stream::iter(0..count)
            .map(|n| {
                let body = data.slice(n * part_size..((n + 1) * part_size).min(data.len()));
                let upload_id = upload_id.clone();
                async move {
                    let output = self
                        .s3
                        .upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(n as i32 + 1)
                        .content_length(body.len() as i64)
                        .body(ByteStream::from(body))
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .context("UploadPart")?;
                    Ok::<_, anyhow::Error>(
                        CompletedPart::builder()
                            .part_number(n as i32 + 1)
                            .set_e_tag(output.e_tag)
                            .build(),
                    )
                }
            })
            .buffer_unordered(self.parts_in_flight)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number);
        let t_complete = Instant::now();
        self.s3
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .context("CompleteMultipartUpload")?;
        Ok(t_complete.elapsed())
    }

    /// HEAD every object; GET and compare the ones marked. Returns (sizes checked, contents checked).
    pub(crate) async fn verify(&self, stored: &[Stored]) -> anyhow::Result<(usize, usize)> {
        let checks: Vec<anyhow::Result<bool>> = futures_util::stream::iter(stored)
            .map(|object| async move {
                let head = self
                    .s3
                    .head_object()
                    .bucket(BUCKET)
                    .key(&object.key)
                    .send()
                    .await
                    .with_context(|| format!("HEAD {}", object.key))?;
                ensure!(
                    head.content_length == Some(object.data.len() as i64),
                    "{}: stored {:?} bytes, sent {}",
                    object.key,
                    head.content_length,
                    object.data.len()
                );
                if !object.check_content {
                    return Ok(false);
                }
                let mut at = 0usize;
                let mut compare = |chunk: &[u8]| {
                    ensure!(
                        at + chunk.len() <= object.data.len()
                            && object.data[at..at + chunk.len()] == *chunk,
                        "{}: the bytes stored differ from those sent (at offset {at})",
                        object.key
                    );
                    at += chunk.len();
                    Ok(())
                };
                match &object.location {
                    Some(url) => {
                        // The URL the server returned: anonymous read, as a browser would open it.
                        let response = self.http.get(url).send().await?;
                        ensure!(
                            response.status().is_success(),
                            "GET {url}: {}",
                            response.status()
                        );
                        let mut body = response.bytes_stream();
                        while let Some(chunk) = body.next().await {
                            compare(&chunk?)?;
                        }
                    }
                    None => {
                        let mut body = self
                            .s3
                            .get_object()
                            .bucket(BUCKET)
                            .key(&object.key)
                            .send()
                            .await
                            .with_context(|| format!("GET {}", object.key))?
                            .body;
                        while let Some(chunk) = body.next().await {
                            compare(&chunk?)?;
                        }
                    }
                }
                ensure!(
                    at == object.data.len(),
                    "{}: GET returned {at} bytes",
                    object.key
                );
                Ok(true)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut contents = 0;
        for check in checks {
            contents += usize::from(check?);
        }
        Ok((stored.len(), contents))
    }

    pub(crate) async fn delete(&self, stored: &[Stored]) -> anyhow::Result<()> {
        let deleted: Vec<anyhow::Result<()>> = futures_util::stream::iter(stored)
            .map(|object| async move {
                self.s3
                    .delete_object()
                    .bucket(BUCKET)
                    .key(&object.key)
                    .send()
                    .await
                    .with_context(|| format!("DELETE {}", object.key))?;
                Ok(())
            })
            .buffer_unordered(16)
            .collect()
            .await;
        deleted.into_iter().collect()
    }
}
