//! `GET /openapi.json`: an OpenAPI 3 description of every endpoint, which Postman and other clients import.
//!
//! The document is written by hand in `static/openapi.json` and compiled into the binary. Tests keep it from
//! drifting: its paths are the routers' ([`crate::routes::PATHS`]), its error codes are
//! [`crate::error::all_codes`], and its upload answer has the sample's 17 fields in order; the API tests
//! check through HTTP that each documented method is routed and each undocumented one answers 405.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../../static/openapi.json");

/// This feature's path.
const ROUTE: &str = "/openapi.json";
pub const PATHS: &[&str] = &[ROUTE];

/// The document's route.
pub fn router() -> Router {
    Router::new().route(ROUTE, get(document))
}

/// `GET /openapi.json`: the OpenAPI document.
pub async fn document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::error::all_codes;

    /// The fields of multer / multer-s3's answer, in their order.
    const SAMPLE_FIELDS: [&str; 17] = [
        "fieldname",
        "originalname",
        "encoding",
        "mimetype",
        "size",
        "bucket",
        "key",
        "acl",
        "contentType",
        "contentDisposition",
        "contentEncoding",
        "storageClass",
        "serverSideEncryption",
        "metadata",
        "location",
        "etag",
        "versionId",
    ];

    fn document_json() -> Value {
        serde_json::from_str(DOCUMENT).expect("static/openapi.json is JSON")
    }

    /// Every path the feature routers route.
    fn router_paths() -> BTreeSet<String> {
        crate::routes::PATHS
            .concat()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn document_is_openapi_3_served_from_the_root() {
        let doc = document_json();
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3."), "{version}");
        assert_eq!(doc["servers"], serde_json::json!([{ "url": "/" }]));
    }

    #[test]
    fn documented_paths_are_the_routers() {
        let doc = document_json();
        let documented: BTreeSet<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        let routed = router_paths();
        assert!(routed.contains("/upload") && routed.contains("/metrics"));
        assert_eq!(
            documented, routed,
            "static/openapi.json and the routers' paths (routes::PATHS) differ"
        );
    }

    #[test]
    fn error_code_enum_is_every_code_an_answer_can_carry() {
        let doc = document_json();
        let documented: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("ErrorCode enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let codes: BTreeSet<&str> = all_codes().iter().copied().collect();
        assert_eq!(documented, codes);
    }

    /// The keys of a JSON object in document order (`serde_json::Value` sorts them).
    struct OrderedKeys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for OrderedKeys {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = OrderedKeys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<OrderedKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(OrderedKeys(keys))
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }

    #[test]
    fn upload_answer_has_the_sample_fields_in_order() {
        let doc = document_json();
        let file = &doc["components"]["schemas"]["UploadedFile"];
        // `Value` sorts keys: read their order from the text.
        let start = DOCUMENT
            .find("\"UploadedFile\"")
            .expect("an UploadedFile schema");
        let text = &DOCUMENT[start..];
        let properties_at = text.find("\"properties\"").expect("its properties");
        let mut deserializer = serde_json::Deserializer::from_str(
            text[properties_at..]
                .split_once(':')
                .map_or("", |(_, rest)| rest),
        );
        let in_order = <OrderedKeys as serde::Deserialize>::deserialize(&mut deserializer)
            .expect("the properties object");
        assert_eq!(in_order.0, SAMPLE_FIELDS);
        let required: Vec<&str> = file["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(required, SAMPLE_FIELDS);
        let upload = &doc["paths"]["/upload"]["post"];
        let photos = &upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
            ["photos"];
        assert_eq!(photos["type"], "array");
        assert_eq!(photos["items"]["format"], "binary");
        assert_eq!(
            upload["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"],
            "#/components/schemas/UploadedFile"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document_json();
        let mut pending = vec![&doc];
        while let Some(value) = pending.pop() {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
                    }
                    pending.extend(map.values());
                }
                Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
    }
}
