//! How each registry request ended, as a metrics label: the class of its answer, or that no
//! answer came. Counted beside `RequestCounts` (which counts by kind) so that
//! `refit_registry_requests_total{registry,result}` can tell a rate limit from an outage.

use reqwest::StatusCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestResult {
    /// 1xx to 3xx.
    Ok,
    /// 401 or 403: also the `/v2/` challenge a token registry always answers first.
    Unauthorized,
    NotFound,
    /// 429 or 503, the answers refit retries after `Retry-After`.
    RateLimited,
    ClientError,
    ServerError,
    /// No answer: connection refused, reset, timed out.
    Unreachable,
}

impl RequestResult {
    pub fn of_status(status: StatusCode) -> RequestResult {
        match status.as_u16() {
            401 | 403 => RequestResult::Unauthorized,
            404 => RequestResult::NotFound,
            429 | 503 => RequestResult::RateLimited,
            400..=499 => RequestResult::ClientError,
            500..=599 => RequestResult::ServerError,
            _ => RequestResult::Ok,
        }
    }

    /// A metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestResult::Ok => "ok",
            RequestResult::Unauthorized => "unauthorized",
            RequestResult::NotFound => "not_found",
            RequestResult::RateLimited => "rate_limited",
            RequestResult::ClientError => "client_error",
            RequestResult::ServerError => "server_error",
            RequestResult::Unreachable => "unreachable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_their_class() {
        let class = |code| RequestResult::of_status(StatusCode::from_u16(code).unwrap());
        assert_eq!(class(200), RequestResult::Ok);
        assert_eq!(class(307), RequestResult::Ok);
        assert_eq!(class(401), RequestResult::Unauthorized);
        assert_eq!(class(404), RequestResult::NotFound);
        assert_eq!(class(429), RequestResult::RateLimited);
        assert_eq!(class(503), RequestResult::RateLimited);
        assert_eq!(class(400), RequestResult::ClientError);
        assert_eq!(class(500), RequestResult::ServerError);
    }
}
