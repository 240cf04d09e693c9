//! A JSON body extractor whose rejections are problem+json: 415 for another content type,
//! 413 over the body limit, 400 for malformed JSON (with line and column), 422 for JSON of the
//! wrong shape (with the path of the offending member).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use rampart_platform::error::{ApiError, FieldError};

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
/// Malformed JSON is 400 with line and column; JSON of the wrong shape is 422 with a pointer to
/// the member and a message in the client's terms (never a Rust type name).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer(e.path());
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                // serde's message ends with " at line L column C"; the pointer says where.
                let msg = msg.split(" at line ").next().unwrap_or(&msg);
                ApiError::Validation(vec![field_error(pointer, msg)])
            }
            _ => ApiError::BadRequest(format!("Malformed JSON body: {inner}.")),
        }
    })
}

/// RFC 6901 pointer of a serde path (`/items/0/name`; empty for the whole body).
pub(super) fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The text between the first pair of backticks after `prefix`, if `msg` starts with it.
fn quoted<'m>(msg: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = msg.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next()
}

/// What serde expected, said without Rust: `u32` is "a whole number", `struct Login` "an object".
fn expected(what: &str) -> String {
    let what = what.trim();
    // Enum variants are wire names (`cookie` or `body`, one of `a`, `b`, `c`): safe to show.
    let names: Vec<&str> = what.split('`').skip(1).step_by(2).collect();
    if !names.is_empty() {
        return format!("one of {}", names.join(", "));
    }
    let range = |lo: i128, hi: i128| format!("a whole number from {lo} to {hi}");
    let plain = match what {
        "u8" => return range(0, u8::MAX.into()),
        "u16" => return range(0, u16::MAX.into()),
        "u32" => return range(0, u32::MAX.into()),
        "i8" => return range(i8::MIN.into(), i8::MAX.into()),
        "i16" => return range(i16::MIN.into(), i16::MAX.into()),
        "i32" => return range(i32::MIN.into(), i32::MAX.into()),
        "u64" | "u128" | "usize" => "a whole number, zero or more",
        "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "a borrowed string" | "char" | "a character" => "a string",
        "a sequence" => "an array",
        "unit" => "null",
        "a map" => "an object",
        w if w.starts_with("struct ") || w.starts_with("map") => "an object",
        w if w.starts_with("tuple") => "an array",
        w if w.starts_with("enum ") || w.contains("variant") => "one of the allowed values",
        // Custom expectations ("an RFC 3339 date") are written for people; anything that
        // looks like code is not shown.
        w if !w.contains("::") && !w.contains(['<', '>']) && w.contains(' ') => w,
        _ => "a valid value",
    };
    plain.to_string()
}

/// What the client sent, as serde describes it (`string "x"`, `integer `5``, `sequence`).
fn got(unexpected: &str) -> &'static str {
    match unexpected.split([' ', '`']).next().unwrap_or("") {
        "string" | "char" => "a string",
        "integer" | "floating" => "a number",
        "boolean" => "a boolean",
        "sequence" => "an array",
        "map" => "an object",
        "null" | "unit" => "null",
        _ => "another value",
    }
}

/// One field error from a serde data error, with the member it names appended to `pointer`.
pub(super) fn field_error(mut pointer: String, msg: &str) -> FieldError {
    let at = |pointer: &mut String, name: &str| {
        pointer.push('/');
        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
    };
    let detail = if let Some(name) = quoted(msg, "missing field ") {
        at(&mut pointer, name);
        "is required".to_string()
    } else if let Some(name) = quoted(msg, "unknown field ") {
        if !pointer.ends_with(&format!("/{name}")) {
            at(&mut pointer, name);
        }
        "is not a field of this request".to_string()
    } else if let Some(name) = quoted(msg, "duplicate field ") {
        at(&mut pointer, name);
        "appears more than once".to_string()
    } else if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        let (unexpected, exp) = rest.split_once(", expected ").unwrap_or((rest, ""));
        format!("must be {}, got {}", expected(exp), got(unexpected))
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let exp = rest.split_once(", expected ").map_or("", |(_, e)| e);
        format!("must be {}", expected(exp))
    } else if let Some(rest) = msg.strip_prefix("invalid length ") {
        // serde_json reads a struct from an array too: `[]` for an object lands here.
        if rest.contains("expected struct ") {
            "must be an object, got an array".to_string()
        } else {
            "has the wrong number of items".to_string()
        }
    } else if msg.contains("not `true` or `false`") {
        // Query strings parse booleans by hand, with a message of their own.
        "must be true or false".to_string()
    } else if msg.contains("digit") || msg.contains("integer") || msg.contains("fit in target") {
        // Query strings parse numbers with `str::parse`, whose errors name no type.
        "must be a whole number".to_string()
    } else if msg.contains("::") || msg.contains(['<', '>']) || msg.contains("struct ") {
        "is not valid".to_string()
    } else {
        // A message a custom deserializer wrote for people ("must be an RFC 3339 date").
        msg.to_string()
    };
    // The detail names the member too, so it reads on its own: "`email` is required".
    let name = pointer.rsplit('/').next().filter(|n| !n.is_empty());
    let detail = match name {
        Some(n) => format!("`{}` {detail}", n.replace("~1", "/").replace("~0", "~")),
        None => format!("the body {detail}"),
    };
    FieldError { pointer, detail }
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        if !is_json(content_type(&headers)) {
            return Err(unsupported());
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
        body(&headers, &bytes).map(Json)
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn unsupported() -> ApiError {
    ApiError::UnsupportedMediaType("Send the body as application/json.".into())
}

/// A JSON body already read (a handler that also hashes the raw bytes, say): 415 for another
/// content type, 400 for an empty or broken body, 422 naming the member for a wrong or unknown
/// field, exactly as the `Json` extractor answers.
pub fn body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    if !is_json(content_type(headers)) {
        return Err(unsupported());
    }
    if bytes.is_empty() {
        return Err(ApiError::BadRequest(
            "Malformed JSON body: the body is empty.".into(),
        ));
    }
    parse(bytes)
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
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        email: String,
        #[serde(default)]
        delivery: Option<Delivery>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Delivery {
        Cookie,
        Body,
    }

    #[test]
    fn syntax_errors_are_400_with_position() {
        let e = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    fn only_error<T: std::fmt::Debug>(r: Result<T, ApiError>) -> FieldError {
        match r.unwrap_err() {
            ApiError::Validation(mut errs) if errs.len() == 1 => errs.remove(0),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn shape_errors_are_422_with_pointer() {
        let e = only_error(parse::<Body>(br#"{"name":"x","inner":{"count":"many"}}"#));
        assert_eq!(e.pointer, "/inner/count");
        assert_eq!(
            e.detail,
            "`count` must be a whole number from 0 to 4294967295, got a string"
        );
    }

    #[test]
    fn an_array_for_an_object_names_the_body_without_type_names() {
        let e = only_error(parse::<Body>(b"[]"));
        assert_eq!(
            (e.pointer.as_str(), e.detail.as_str()),
            ("", "the body must be an object, got an array")
        );
        let e = only_error(parse::<Body>(br#"{"name":5,"inner":{"count":1}}"#));
        assert_eq!(
            (e.pointer.as_str(), e.detail.as_str()),
            ("/name", "`name` must be a string, got a number")
        );
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let e = only_error(parse::<Body>(br#"{"name":"x","inner":{}}"#));
        assert_eq!(
            (e.pointer.as_str(), e.detail.as_str()),
            ("/inner/count", "`count` is required")
        );
        let e = only_error(parse::<Strict>(br#"{"email":"a@b.c","admin":true}"#));
        assert_eq!(e.pointer, "/admin");
        assert_eq!(e.detail, "`admin` is not a field of this request");
    }

    #[test]
    fn enum_values_list_the_allowed_wire_names() {
        let e = only_error(parse::<Strict>(br#"{"email":"a@b.c","delivery":"pigeon"}"#));
        assert_eq!(e.pointer, "/delivery");
        assert_eq!(e.detail, "`delivery` must be one of cookie, body");
    }

    #[test]
    fn json_media_types() {
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
