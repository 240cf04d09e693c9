//! A JSON body extractor whose rejections are problem+json: 415 for another content type,
//! 413 over the body limit, 400 for malformed JSON (with line and column), 422 for JSON of the
//! wrong shape (with the path of the offending member).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses a JSON body the way the extractor does (also for handlers that keep the raw bytes).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let pointer = if path == "." {
                    String::new()
                } else {
                    path.replace('.', "/")
                };
                let msg = inner.to_string();
                // serde's message ends with " at line L column C"; the pointer says where.
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                ApiError::Validation(vec![FieldError {
                    pointer: if pointer.is_empty() {
                        String::new()
                    } else {
                        format!("/{pointer}")
                    },
                    detail: msg,
                }])
            }
            _ => ApiError::BadRequest(format!("Malformed JSON body: {inner}.")),
        }
    })
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(ct) {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as application/json.".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("The request body could not be read.".into())
                }
            })?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest(
                "Malformed JSON body: the body is empty.".into(),
            ));
        }
        parse(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn syntax_errors_are_400_with_position() {
        let e = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn shape_errors_are_422_with_pointer() {
        match parse::<Body>(br#"{"name":"x","inner":{"count":"many"}}"#).unwrap_err() {
            ApiError::Validation(errs) => assert_eq!(errs[0].pointer, "/inner/count"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_media_types() {
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
