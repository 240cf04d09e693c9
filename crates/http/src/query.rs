//! A query-string extractor whose rejections are problem+json: 400 naming the parameter and
//! what it must be (`?status=bogus` is refused, not read as "no filter").

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use rampart_platform::error::{ApiError, FieldError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Parses a query string (without the `?`).
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = super::json::pointer(e.path());
        let msg = e.into_inner().to_string();
        let FieldError { pointer, detail } = super::json::field_error(pointer, &msg);
        ApiError::BadRequest(if pointer.is_empty() {
            format!("The query string is not valid: {detail}.")
        } else {
            format!("Query parameter {detail}.")
        })
    })
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct List {
        status: Option<Status>,
        limit: Option<usize>,
        payload: Option<bool>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Queued,
        Failed,
    }

    fn detail(q: &str) -> String {
        match parse::<List>(q).unwrap_err() {
            ApiError::BadRequest(d) => d,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_unknown_filter_value_is_400_naming_the_parameter() {
        assert_eq!(
            detail("status=bogus"),
            "Query parameter `status` must be one of queued, failed."
        );
        assert_eq!(
            detail("limit=many"),
            "Query parameter `limit` must be a whole number."
        );
        assert_eq!(
            detail("colour=red"),
            "Query parameter `colour` is not a field of this request."
        );
        assert_eq!(
            detail("payload=yes"),
            "Query parameter `payload` must be true or false."
        );
        assert!(parse::<List>("status=failed&limit=5&payload=true").is_ok());
        assert!(parse::<List>("").is_ok());
    }
}
