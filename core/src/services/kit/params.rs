//! Reading an action's or reaction's parameters (already validated against the manifest, so
//! these only interpret values and name the parameter when one cannot work).

use serde_json::Value;

use crate::connector::{ConnectorError, Params};

/// Reads an optional string parameter; absent, null or blank counts as absent.
pub fn opt_str<'a>(params: &'a Params, id: &str) -> Option<&'a str> {
    params.get(id).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty())
}

/// Reads a required string parameter, or says which one is missing.
pub fn req_str<'a>(params: &'a Params, id: &str) -> Result<&'a str, ConnectorError> {
    opt_str(params, id).ok_or_else(|| bad_param(id, "is required"))
}

/// Reads an optional boolean parameter (JSON bool, or "true"/"false"/"1"/"0" strings).
pub fn opt_bool(params: &Params, id: &str) -> Result<Option<bool>, ConnectorError> {
    match params.get(id) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(bad_param(id, format!("expected true or false, got {s:?}"))),
        },
        Some(other) => Err(bad_param(id, format!("expected true or false, got {other}"))),
    }
}

/// A required number parameter (a JSON number, or a numeric string from a hand-written file).
pub fn number_param(params: &Params, id: &str) -> Result<f64, ConnectorError> {
    let n = match params.get(id) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().parse::<f64>().ok(),
        None | Some(Value::Null) | Some(Value::String(_)) => return Err(bad_param(id, "is required")),
        _ => None,
    };
    n.filter(|n| n.is_finite()).ok_or_else(|| bad_param(id, "must be a number"))
}

/// Shorthand for a [`ConnectorError::BadParams`].
pub fn bad_param(id: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::BadParams { param: id.to_string(), message: message.into() }
}

/// Checks that a URL parameter is an absolute http(s) URL and returns it normalised.
pub fn http_url_param(params: &Params, id: &str) -> Result<url::Url, ConnectorError> {
    let raw = req_str(params, id)?;
    // The value is not repeated: a URL may carry a key in its path or query.
    let url = url::Url::parse(raw).map_err(|e| bad_param(id, format!("not a valid URL ({e})")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(bad_param(id, format!("only http and https URLs are supported, not {other}:"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_parameter_is_not_echoed() {
        let params = serde_json::json!({"url": "https://api.nasa.gov:99999/apod?api_key=SECRET"});
        let err = http_url_param(params.as_object().expect("object"), "url").expect_err("bad port");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
