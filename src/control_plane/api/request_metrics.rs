//! kube-apiserver's own request metrics, served on /metrics with the controllers' counters:
//! `apiserver_request_total` (verb, group, version, resource, subresource, scope, component, code),
//! `apiserver_request_duration_seconds` (kube-apiserver's buckets; time to the response head, long-running
//! requests left out as their duration is the client's choice), `apiserver_longrunning_requests` (open
//! watches and streams) and `apiserver_watch_events_total` (events sent, per kind). Verbs are reported as
//! kube-apiserver reports them: GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE, DELETECOLLECTION, CONNECT.

use std::sync::OnceLock;
use std::time::Instant;

use axum::http::{header, Method};
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use super::object_path::{self, ApiPath};

const COMPONENT: &str = "apiserver";

/// kube-apiserver's request duration buckets (seconds).
const DURATION_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0,
    45.0, 60.0,
];

const LABELS: [&str; 7] = ["verb", "group", "version", "resource", "subresource", "scope", "component"];

struct Metrics {
    requests: IntCounterVec,
    durations: HistogramVec,
    longrunning: IntGaugeVec,
    watch_events: IntCounterVec,
}

/// `collector`, registered in the process's registry (the one /metrics renders).
pub fn registered<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    prometheus::default_registry().register(Box::new(collector.clone())).expect("each metric is registered once");
    collector
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let with_code: Vec<&str> = LABELS.iter().copied().chain(["code"]).collect();
        let requests = Opts::new(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, group, version, resource, scope, component, and HTTP response code.",
        );
        let durations = HistogramOpts::new(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource, subresource, scope and component (long-running requests excluded).",
        )
        .buckets(DURATION_BUCKETS.to_vec());
        let longrunning = Opts::new(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
        );
        let watch_events = Opts::new("apiserver_watch_events_total", "Number of events sent in watch clients");
        Metrics {
            requests: registered(IntCounterVec::new(requests, &with_code).expect("metric")),
            durations: registered(HistogramVec::new(durations, &LABELS).expect("metric")),
            longrunning: registered(IntGaugeVec::new(longrunning, &LABELS).expect("metric")),
            watch_events: registered(IntCounterVec::new(watch_events, &["group", "version", "kind"]).expect("metric")),
        }
    })
}

/// What a request is, in kube-apiserver's metric labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub verb: &'static str,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: &'static str,
}

impl RequestInfo {
    fn values(&self) -> [&str; 7] {
        [self.verb, &self.group, &self.version, &self.resource, &self.subresource, self.scope, COMPONENT]
    }

    /// Watches and streams: counted while open, not timed.
    pub fn is_long_running(&self) -> bool {
        matches!(self.verb, "WATCH" | "CONNECT")
    }
}

fn query_flag(query: Option<&str>, name: &str) -> bool {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .any(|(k, v)| k == name && crate::resources::go_bool::query_flag(Some(&v)))
}

/// Label a request by its method, path, query and content type.
pub fn request_info(method: &Method, path: &str, query: Option<&str>, content_type: Option<&str>) -> RequestInfo {
    let plain = |verb| RequestInfo {
        verb,
        group: String::new(),
        version: String::new(),
        resource: String::new(),
        subresource: String::new(),
        scope: "",
    };
    let method_verb = match *method {
        Method::GET | Method::HEAD => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    };
    let ApiPath::Object(object) = object_path::parse(path) else { return plain(method_verb) };
    let named = object.name.is_some();
    let subresource = object.subresource.clone().unwrap_or_default();
    let streams = object.kind.kind == "Pod" && super::node_proxy::NODE_SUBRESOURCES.contains(&subresource.as_str());
    let verb = match method_verb {
        _ if streams && subresource != "log" => "CONNECT",
        "GET" if query_flag(query, "watch") => "WATCH",
        "GET" if !named => "LIST",
        "DELETE" if !named => "DELETECOLLECTION",
        "PATCH" if content_type.is_some_and(|c| c.starts_with("application/apply-patch")) => "APPLY",
        other => other,
    };
    let scope = if named || method_verb == "POST" {
        "resource"
    } else if object.namespace.is_some() {
        "namespace"
    } else {
        "cluster"
    };
    RequestInfo {
        verb,
        group: object.kind.group.to_string(),
        version: object.kind.version.to_string(),
        resource: object.kind.plural.to_string(),
        subresource,
        scope,
    }
}

/// Middleware: count and time every request the router answers.
pub async fn observe(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let info = request_info(request.method(), request.uri().path(), request.uri().query(), content_type);
    let started = Instant::now();
    let response = next.run(request).await;
    let m = metrics();
    let values = info.values();
    let code = response.status().as_u16().to_string();
    let with_code: Vec<&str> = values.iter().copied().chain([code.as_str()]).collect();
    m.requests.with_label_values(&with_code).inc();
    if !info.is_long_running() {
        m.durations.with_label_values(&values).observe(started.elapsed().as_secs_f64());
    }
    response
}

/// An open watch, counted in `apiserver_longrunning_requests` until dropped.
pub struct OpenWatch {
    gauge: prometheus::IntGauge,
    events: prometheus::IntCounter,
}

impl OpenWatch {
    pub fn start(kind: &crate::resources::kinds::ResourceKind, namespaced: bool) -> OpenWatch {
        let m = metrics();
        let scope = if namespaced { "namespace" } else { "cluster" };
        let gauge =
            m.longrunning.with_label_values(&["WATCH", kind.group, kind.version, kind.plural, "", scope, COMPONENT]);
        gauge.inc();
        let events = m.watch_events.with_label_values(&[kind.group, kind.version, kind.kind]);
        OpenWatch { gauge, events }
    }

    /// One event sent to the client.
    pub fn sent(&self) {
        self.events.inc();
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Everything registered (these, the controllers' counters) in Prometheus' text format.
pub fn render() -> String {
    metrics();
    prometheus::TextEncoder::new().encode_to_string(&prometheus::gather()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str, query: Option<&str>) -> (&'static str, String, String, &'static str) {
        let i = request_info(&method, path, query, None);
        (i.verb, i.resource, i.subresource, i.scope)
    }

    #[test]
    fn verbs_and_scopes_as_kube_apiserver_reports_them() {
        let s = String::from;
        assert_eq!(info(Method::GET, "/api/v1/namespaces/default/pods", None), ("LIST", s("pods"), s(""), "namespace"));
        assert_eq!(info(Method::GET, "/api/v1/pods", Some("watch=true")), ("WATCH", s("pods"), s(""), "cluster"));
        assert_eq!(info(Method::GET, "/api/v1/pods", Some("watch=0")), ("LIST", s("pods"), s(""), "cluster"));
        assert_eq!(info(Method::GET, "/api/v1/nodes/n1", None), ("GET", s("nodes"), s(""), "resource"));
        assert_eq!(info(Method::POST, "/api/v1/namespaces/d/pods", None), ("POST", s("pods"), s(""), "resource"));
        assert_eq!(info(Method::PUT, "/api/v1/nodes/n1/status", None), ("PUT", s("nodes"), s("status"), "resource"));
        assert_eq!(
            info(Method::DELETE, "/apis/apps/v1/namespaces/d/deployments", None),
            ("DELETECOLLECTION", s("deployments"), s(""), "namespace")
        );
        assert_eq!(
            info(Method::POST, "/api/v1/namespaces/d/pods/p/exec", None),
            ("CONNECT", s("pods"), s("exec"), "resource")
        );
        assert_eq!(
            info(Method::GET, "/api/v1/namespaces/d/pods/p/log", None),
            ("GET", s("pods"), s("log"), "resource")
        );
        assert_eq!(info(Method::GET, "/version", None), ("GET", s(""), s(""), ""));
        let apply = request_info(
            &Method::PATCH,
            "/api/v1/namespaces/d/configmaps/c",
            None,
            Some("application/apply-patch+yaml"),
        );
        assert_eq!(apply.verb, "APPLY");
    }

    #[test]
    fn counted_watches_and_text_format() {
        let pods = crate::resources::kinds::served("", "pods");
        let watch = OpenWatch::start(pods, true);
        watch.sent();
        let open = render();
        assert!(
            open.contains(r#"apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 1"#),
            "{open}"
        );
        assert!(open.contains(r#"apiserver_watch_events_total{group="",kind="Pod",version="v1"}"#), "{open}");
        drop(watch);
        assert!(render().contains(r#"apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 0"#));
    }
}
