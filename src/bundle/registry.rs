//! `kubeboot registry`: the images an air-gapped bundle brought, served read-only over the registry API's
//! pull side (GET and HEAD of /v2/, manifests by tag or digest, blobs by digest, tag lists), which the hosts' Docker
//! uses as its registry mirror. Hand-written rather than Debian's docker-registry: it is four routes over
//! files already in skopeo's `dir:` layout, and the same binary then serves EL and Debian hosts alike.
//! Run on masters by the kubeboot-registry unit; plain HTTP (Docker's insecure-registries), as the
//! content is checked against the bundle's manifest before it reaches the host.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::images::ImageName;
use super::manifest::ImageEntry;

/// The list of images in the folder, written by `up` beside their folders.
pub const INDEX: &str = "images.json";

struct Images {
    root: PathBuf,
    entries: Vec<(ImageName, ImageEntry)>,
}

impl Images {
    fn load(root: &Path) -> std::io::Result<Images> {
        let text = std::fs::read(root.join(INDEX))?;
        let entries: Vec<ImageEntry> = serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{INDEX}: {e}")))?;
        let mut entries: Vec<(ImageName, ImageEntry)> =
            entries.into_iter().filter_map(|e| Some((ImageName::parse(&e.reference).ok()?, e))).collect();
        entries.sort_by_key(|(image, _)| image.registry != "docker.io");
        Ok(Images { root: root.to_path_buf(), entries })
    }

    /// Docker Hub's images answer under their repository path, as Docker's mirror requests ask
    /// (`kubetm/p8000`, `library/busybox`); another registry's under its path too (`team/tool`), for pods
    /// that name `MASTER:5000/team/tool` (Docker uses mirrors for Docker Hub only). A Hub image comes first.
    fn named(image: &ImageName, name: &str) -> bool {
        image.repository == name
    }

    fn tags(&self, name: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(image, _)| Self::named(image, name))
            .filter_map(|(image, _)| image.tag_or_digest.strip_prefix(':'))
            .collect()
    }

    /// The image a request names, by tag or by the manifest's digest.
    fn manifest(&self, name: &str, reference: &str) -> Option<&ImageEntry> {
        self.entries
            .iter()
            .find(|(image, entry)| {
                Self::named(image, name)
                    && (image.tag_or_digest == format!(":{reference}") || entry.digest == reference)
            })
            .map(|(_, entry)| entry)
    }

    /// A blob's file: skopeo names it by the digest's hex.
    fn blob(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.entries.iter().map(|(_, e)| self.root.join(&e.folder).join(hex)).find(|p| p.is_file())
    }
}

pub async fn serve(images: &Path, listen: SocketAddr) -> std::io::Result<()> {
    let images = Arc::new(Images::load(images)?);
    eprintln!("kubeboot registry: {} images from {} on {listen}", images.entries.len(), images.root.display());
    let app = Router::new().fallback(answer).with_state(images);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}

async fn answer(State(images): State<Arc<Images>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "this registry is read-only");
    }
    let path = uri.path();
    if path == "/v2/" || path == "/v2" {
        return with_api_version(Response::new(Body::from("{}")));
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "not a registry path");
    };
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        let Some(entry) = images.manifest(name, reference) else {
            return error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                &format!("{name}:{reference} is not in the bundle"),
            );
        };
        let file = images.root.join(&entry.folder).join("manifest.json");
        let Ok(bytes) = tokio::fs::read(&file).await else {
            return error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "the image's manifest file is missing");
        };
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|m| m["mediaType"].as_str().map(String::from))
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
        let mut response = Response::new(Body::from(bytes));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header_value(&media_type));
        headers.insert("docker-content-digest", header_value(&entry.digest));
        return with_api_version(response);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        let tags = images.tags(name);
        if tags.is_empty() {
            return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", &format!("{name} is not in the bundle"));
        }
        let body = serde_json::json!({"name": name, "tags": tags}).to_string();
        return with_api_version(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
        let Some(file) = images.blob(digest) else {
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", &format!("{digest} is not in the bundle"));
        };
        let Ok(handle) = tokio::fs::File::open(&file).await else {
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "the blob's file is missing");
        };
        let length = handle.metadata().await.map(|m| m.len()).unwrap_or_default();
        let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(handle)));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert("docker-content-digest", header_value(digest));
        return with_api_version(response);
    }
    error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "not a registry path")
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn with_api_version(mut response: Response) -> Response {
    response.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    response
}

/// The registry API's error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    with_api_version((status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}
