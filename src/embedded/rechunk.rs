//! Form POST bodies handed to s3s in frames of at most [`MAX_FRAME`] bytes.
//!
//! s3s 0.14.1's multipart parser refuses a form ("failed to read file stream") when a frame ends inside the
//! file with a CR byte (it might start the closing boundary) and the next frame would grow the bytes it holds
//! past 64 KiB: a loopback read is often larger, so binary files (which hold CR bytes) failed at random, one
//! form in a few (found by the benchmark's 500 x 1 MiB forms). With frames of at most 32 KiB the held bytes stay
//! under its limit.
//!
//! The store's server errors are logged here, not by s3s (whose `s3s::service` events the default log filter
//! turns off): s3s logs every 5xx as an error, including the 500 of a PUT whose client went away mid-body, which
//! is what the server's own early PUTs do when a form turns out longer than its layout said
//! (`storage::upload::tap`). A 5xx after the request's body failed is logged at debug level.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper::{Method, Request, Response};
use s3s::service::S3Service;

/// The largest frame a form's body reaches s3s in: half of s3s's 64 KiB boundary buffer.
const MAX_FRAME: usize = 32 * 1024;

/// The store's S3 service, with form POST bodies cut into small frames.
#[derive(Clone)]
pub(super) struct Rechunked(pub(super) S3Service);

impl Service<Request<Incoming>> for Rechunked {
    type Response = Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let service = self.0.clone();
        let method = req.method().clone();
        let failed = Arc::new(AtomicBool::new(false));
        let req = req.map(|body| Watched {
            inner: body,
            failed: Arc::clone(&failed),
        });
        let req = if method == Method::POST {
            req.map(|body| {
                s3s::Body::http_body(Small {
                    inner: body,
                    rest: Bytes::new(),
                })
            })
        } else {
            req.map(s3s::Body::http_body)
        };
        Box::pin(async move {
            let response = service.call(req).await?;
            let status = response.status();
            if status.is_server_error() {
                if failed.load(Ordering::Relaxed) {
                    tracing::debug!(
                        %method,
                        status = status.as_u16(),
                        "embedded store: a request's body ended early (its client went away)"
                    );
                } else {
                    tracing::error!(
                        %method,
                        status = status.as_u16(),
                        "embedded store: answered a server error"
                    );
                }
            }
            Ok(response)
        })
    }
}

/// A request body that notes whether reading it failed.
struct Watched<B> {
    inner: B,
    failed: Arc<AtomicBool>,
}

impl<B> Body for Watched<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.failed.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body whose data frames are at most [`MAX_FRAME`] bytes.
struct Small<B> {
    inner: B,
    /// What is left of the last frame read.
    rest: Bytes,
}

impl<B> Body for Small<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if !self.rest.is_empty() {
            let len = self.rest.len().min(MAX_FRAME);
            let piece = self.rest.split_to(len);
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() > MAX_FRAME {
                        self.rest = data.split_off(MAX_FRAME);
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        hint.set_lower(hint.lower().saturating_add(rest));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, Full};

    #[tokio::test]
    async fn frames_are_cut_to_32_kib_and_keep_every_byte() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = Small {
            inner: Full::new(Bytes::from(data.clone())),
            rest: Bytes::new(),
        };
        let mut sizes = Vec::new();
        let mut joined = Vec::new();
        while let Some(frame) = body.frame().await {
            let bytes = frame.expect("frame").into_data().expect("data");
            sizes.push(bytes.len());
            joined.extend_from_slice(&bytes);
        }
        assert_eq!(sizes, [32_768, 32_768, 32_768, 1_696]);
        assert_eq!(joined, data);
    }
}
