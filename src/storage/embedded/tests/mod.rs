//! Unit tests of the embedded store, one file per concern, calling its S3 implementation directly.

mod multipart;

use bytes::Bytes;
use hyper::http::{Extensions, HeaderMap, Method, Uri};
use s3s::auth::Credentials;

use s3s::S3Request;
use s3s::crypto::{Checksum as _, Md5};

pub(super) const PART: usize = 5 * 1024 * 1024;

pub(super) fn request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers: HeaderMap::new(),
        extensions: Extensions::new(),
        credentials: Some(Credentials {
            access_key: "tester".to_owned(),
            secret_key: "secret".into(),
        }),
        region: None,
        service: None,
        trailing_headers: None,
    }
}

pub(super) fn md5(bytes: &[u8]) -> [u8; 16] {
    let mut hash = Md5::new();
    hash.update(bytes);
    hash.finalize()
}

pub(super) fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}
