//! `GET /containerLogs/{namespace}/{pod}/{container}`: the container's log as Docker's json-file driver kept
//! it, with kubelet's query (follow, previous, sinceSeconds, sinceTime, timestamps, tailLines, limitBytes).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::containers::{container, PodRef};
use super::{query_pairs, NodeApiState};
use crate::agent::runtime::docker_streams::{LogOptions, Output};
use crate::https::status::status;

/// kubelet's log options from the query; a bad value is a 400.
fn options(pairs: &[(String, String)], now: i64) -> Result<(LogOptions, bool, Option<u64>), String> {
    let get = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let flag = |name: &str| crate::resources::go_bool::query_flag(get(name));
    let number = |name: &str| -> Result<Option<u64>, String> {
        get(name)
            .map(|v| v.parse::<u64>().map_err(|_| format!("{name}: {v:?} is not a non-negative number")))
            .transpose()
    };
    let since = match (number("sinceSeconds")?, get("sinceTime")) {
        (Some(seconds), _) => Some(now - seconds as i64),
        (None, Some(time)) => Some(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .map_err(|_| format!("sinceTime: {time:?} is not an RFC 3339 time"))?
                .unix_timestamp(),
        ),
        (None, None) => None,
    };
    let log =
        LogOptions { follow: flag("follow"), timestamps: flag("timestamps"), since, tail_lines: number("tailLines")? };
    Ok((log, flag("previous"), number("limitBytes")?))
}

pub async fn container_logs(
    State(state): State<Arc<NodeApiState>>,
    Path((namespace, pod, name)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (log, previous, limit) = match options(&query_pairs(&request), now) {
        Ok(o) => o,
        Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
    };
    let pod_ref = PodRef { namespace: &namespace, pod: &pod, uid: None };
    let instance = match container(&state.runtime, &pod_ref, &name, previous).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let body =
        state.runtime.logs(&instance.id, &log).map(|chunk| chunk.map(|(Output::Stdout(b) | Output::Stderr(b))| b));
    // limitBytes: stop after that many bytes (the last chunk is cut).
    let body = body.scan(limit.unwrap_or(u64::MAX), |left, chunk| {
        if *left == 0 {
            return std::future::ready(None);
        }
        let chunk = chunk.map(|mut bytes| {
            bytes.truncate(bytes.len().min(usize::try_from(*left).unwrap_or(usize::MAX)));
            *left -= bytes.len() as u64;
            bytes
        });
        std::future::ready(Some(chunk))
    });
    ([(header::CONTENT_TYPE, "text/plain")], Body::from_stream(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn kubelets_query() {
        let (log, previous, limit) =
            options(&q(&[("follow", "true"), ("tailLines", "5"), ("sinceSeconds", "300"), ("limitBytes", "10")]), 1000)
                .unwrap();
        assert_eq!(log, LogOptions { follow: true, timestamps: false, since: Some(700), tail_lines: Some(5) });
        assert_eq!((previous, limit), (false, Some(10)));
        let (log, previous, _) =
            options(&q(&[("sinceTime", "1970-01-01T00:01:40Z"), ("previous", "True"), ("timestamps", "true")]), 0)
                .unwrap();
        assert_eq!((log.since, log.timestamps, previous), (Some(100), true, true));
        assert!(options(&q(&[("tailLines", "-1")]), 0).unwrap_err().contains("tailLines"));
        assert!(options(&q(&[("sinceTime", "yesterday")]), 0).unwrap_err().contains("sinceTime"));
    }
}
