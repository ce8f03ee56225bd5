//! [`WhoAmI`]: the account check most token services need — one `GET` of a "who am I" endpoint
//! with the token attached, the account name read at a JSON pointer.

use crate::connector::{AccountCheck, ConnectorError, Credential, HttpRequestSpec, HttpResponseData};

use super::bad_response;

/// Checks a token with one documented `GET` (GitHub `/user`, Discord `/users/@me`, Postman
/// `/me`) and reads the account at `pointer` (`/login`, `/user/username`).
pub struct WhoAmI {
    service: &'static str,
    url: String,
    headers: fn(&Credential) -> Vec<(String, String)>,
    pointer: &'static str,
    /// Response headers that carry the account plan's quota limit, first found wins.
    plan_headers: &'static [&'static str],
}

impl WhoAmI {
    /// A check of `service`'s tokens: `GET url` with `headers(credential)`, the account at
    /// `pointer` in the JSON answer.
    pub fn new(
        service: &'static str,
        url: String,
        headers: fn(&Credential) -> Vec<(String, String)>,
        pointer: &'static str,
    ) -> WhoAmI {
        WhoAmI { service, url, headers, pointer, plan_headers: &[] }
    }

    /// Also reads the account plan's quota limit from the first of `headers` in the answer.
    pub fn with_plan_limit_headers(mut self, headers: &'static [&'static str]) -> WhoAmI {
        self.plan_headers = headers;
        self
    }
}

impl AccountCheck for WhoAmI {
    fn request(&self, credential: &Credential) -> Result<HttpRequestSpec, ConnectorError> {
        let mut request = HttpRequestSpec::get(self.url.clone());
        request.headers = (self.headers)(credential);
        Ok(request)
    }

    fn account(&self, response: &HttpResponseData) -> Result<String, ConnectorError> {
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad_response(self.service, format!("the account answer is not JSON: {e}")))?;
        let account = match body.pointer(self.pointer) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => return Err(bad_response(self.service, format!("the account answer has no {}", self.pointer))),
        };
        Ok(super::truncate_chars(&account, 100))
    }

    fn plan_limit(&self, response: &HttpResponseData) -> Option<u64> {
        self.plan_headers
            .iter()
            .find_map(|h| response.header(h))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&limit| limit > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> WhoAmI {
        WhoAmI::new(
            "svc",
            "https://api.example.com/me".into(),
            |c| vec![("X-Key".into(), c.secret().into())],
            "/user/name",
        )
    }

    fn answer(body: &str) -> HttpResponseData {
        HttpResponseData { status: 200, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn the_request_carries_the_token_in_the_service_header() {
        let request = check().request(&Credential::ApiKey("tok".into())).unwrap();
        assert_eq!((request.method.as_str(), request.url.as_str()), ("GET", "https://api.example.com/me"));
        assert_eq!(request.headers, [("X-Key".to_string(), "tok".to_string())]);
    }

    #[test]
    fn the_account_is_read_at_the_pointer() {
        assert_eq!(check().account(&answer(r#"{"user": {"name": " octocat "}}"#)).unwrap(), "octocat");
        assert_eq!(check().account(&answer(r#"{"user": {"name": 42}}"#)).unwrap(), "42");
    }

    #[test]
    fn an_answer_without_the_account_is_a_bad_response() {
        for body in [r#"{"user": {}}"#, r#"{"user": {"name": ""}}"#, "not json", "[]"] {
            let err = check().account(&answer(body)).unwrap_err();
            assert!(matches!(err, ConnectorError::BadResponse { .. }), "{body}: {err}");
        }
    }
}
