//! The controllers' API client: requests go through the API server's own handlers in process (the same
//! authorization, admission, validation and defaulting as any client's), as the controller manager's
//! identity, without a TLS round trip. Answers come back as the objects or Status errors a client sees.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use crate::control_plane::api::identity::Identity;
use crate::control_plane::api::object_path::ObjectPath;
use crate::control_plane::api::objects::{handle, ObjectQuery};
use crate::control_plane::api::ApiState;
use crate::resources::kinds::ResourceKind;
use crate::resources::meta;

/// The user kube-controller-manager runs as (a member of system:masters here: no finer RBAC yet).
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";

/// A Status answer (or an unreadable one).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
    pub fn is_conflict(&self) -> bool {
        self.code == 409 && self.reason == "Conflict"
    }
    pub fn already_exists(&self) -> bool {
        self.code == 409 && self.reason == "AlreadyExists"
    }
}

#[derive(Clone)]
pub struct LocalApi {
    state: Arc<ApiState>,
    identity: Identity,
}

fn namespace_of(object: &Value) -> Option<String> {
    object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from)
}

impl LocalApi {
    pub fn new(state: Arc<ApiState>) -> Self {
        LocalApi { state, identity: Identity::Admin { user: CONTROLLER_MANAGER_USER.into() } }
    }

    async fn call(
        &self,
        method: Method,
        path: ObjectPath,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_str(content_type).expect("media type"));
        let response = handle(
            self.state.clone(),
            self.identity.clone(),
            method,
            path,
            ObjectQuery::default(),
            headers,
            Bytes::from(body),
        )
        .await;
        let code = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(|e| ApiError {
            code: 500,
            reason: "InternalError".into(),
            message: e.to_string(),
        })?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&code) {
            return Ok(answer);
        }
        Err(ApiError {
            code,
            reason: answer["reason"].as_str().unwrap_or("Unknown").into(),
            message: answer["message"].as_str().unwrap_or("").into(),
        })
    }

    fn path(
        kind: &'static ResourceKind,
        namespace: Option<String>,
        name: Option<String>,
        sub: Option<&str>,
    ) -> ObjectPath {
        ObjectPath { kind, namespace, name, subresource: sub.map(String::from) }
    }

    pub async fn create(&self, kind: &'static ResourceKind, object: &Value) -> Result<Value, ApiError> {
        let path = Self::path(kind, namespace_of(object), None, None);
        self.call(Method::POST, path, "application/json", serde_json::to_vec(object).expect("json")).await
    }

    pub async fn get(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let path = Self::path(kind, namespace.map(String::from), Some(name.into()), None);
        self.call(Method::GET, path, "application/json", Vec::new()).await
    }

    /// PUT of the whole object (or of its status with `subresource` "status"); its resourceVersion is the
    /// precondition.
    pub async fn update(
        &self,
        kind: &'static ResourceKind,
        object: &Value,
        subresource: Option<&str>,
    ) -> Result<Value, ApiError> {
        let name = meta::name(object).unwrap_or_default().to_string();
        let path = Self::path(kind, namespace_of(object), Some(name), subresource);
        self.call(Method::PUT, path, "application/json", serde_json::to_vec(object).expect("json")).await
    }

    /// A JSON merge patch.
    pub async fn merge_patch(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let path = Self::path(kind, namespace.map(String::from), Some(name.into()), None);
        let body = serde_json::to_vec(patch).expect("json");
        self.call(Method::PATCH, path, "application/merge-patch+json", body).await
    }

    /// POST pods/NAME/binding: bind an unbound pod to `node`.
    pub async fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<(), ApiError> {
        let pods = crate::resources::kinds::served("", "pods");
        let path = Self::path(pods, Some(namespace.into()), Some(name.into()), Some("binding"));
        let binding = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.call(Method::POST, path, "application/json", serde_json::to_vec(&binding).expect("json")).await.map(|_| ())
    }

    /// DELETE with DeleteOptions (`propagationPolicy`, `preconditions`, `gracePeriodSeconds`).
    pub async fn delete(
        &self,
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let path = Self::path(kind, namespace.map(String::from), Some(name.into()), None);
        self.call(Method::DELETE, path, "application/json", serde_json::to_vec(options).expect("json")).await
    }
}
