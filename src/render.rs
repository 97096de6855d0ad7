//! Templates and expressions (tera 1.x). Templates are embedded from templates/ and can be overridden by
//! file name from a folder (`--templates DIR`). Strings in playbooks are rendered with the same engine, and
//! `when:` conditions are tera expressions.

use std::path::Path;

use tera::{Context, Tera};

/// The templates shipped in the binary: (file name, contents).
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    ("daemon.json", include_str!("../templates/daemon.json")),
    ("docker-ce.list", include_str!("../templates/docker-ce.list")),
    ("docker-ce.repo", include_str!("../templates/docker-ce.repo")),
    ("kubernetes.repo", include_str!("../templates/kubernetes.repo")),
    ("docker.service.d/kubeboot.conf", include_str!("../templates/docker.service.d/kubeboot.conf")),
    ("kubeboot-server.service", include_str!("../templates/kubeboot-server.service")),
    ("kubeboot-agent.service", include_str!("../templates/kubeboot-agent.service")),
    ("kubeboot-etcd.service", include_str!("../templates/kubeboot-etcd.service")),
    ("kubeboot-registry.service", include_str!("../templates/kubeboot-registry.service")),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{message}")]
    Expression { message: String },
    #[error("cannot read templates folder {path}: {message}")]
    Folder { path: String, message: String },
}

pub struct Renderer {
    tera: Tera,
}

/// tera's error chain, flattened: the outer message alone says only "Failed to render".
fn describe(err: &tera::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

impl Renderer {
    /// The embedded templates, each replaced by a file of the same name in `override_dir` if given.
    pub fn new(override_dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        let mut sources: Vec<(String, String)> =
            EMBEDDED_TEMPLATES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        if let Some(dir) = override_dir {
            for (name, text) in read_folder(dir, dir)? {
                match sources.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = text,
                    None => sources.push((name, text)),
                }
            }
        }
        for (name, text) in &sources {
            tera.add_raw_template(name, text)
                .map_err(|e| RenderError::Template { name: name.clone(), message: describe(&e) })?;
        }
        Ok(Renderer { tera })
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.tera.get_template_names().any(|n| n == name)
    }

    pub fn render_template(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        if !self.has_template(name) {
            return Err(RenderError::Template { name: name.into(), message: "no such template".into() });
        }
        self.tera.render(name, ctx).map_err(|e| RenderError::Template { name: name.into(), message: describe(&e) })
    }

    /// Render a string from a playbook. Strings without `{{` or `{%` are returned as they are.
    pub fn render_str(&self, text: &str, ctx: &Context) -> Result<String, RenderError> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        let mut tera = self.tera.clone();
        tera.render_str(text, ctx).map_err(|e| RenderError::Expression { message: describe(&e) })
    }

    /// Evaluate a `when:` condition.
    pub fn condition(&self, expr: &str, ctx: &Context) -> Result<bool, RenderError> {
        let wrapped = format!("{{% if {expr} %}}true{{% else %}}false{{% endif %}}");
        let mut tera = self.tera.clone();
        let out = tera
            .render_str(&wrapped, ctx)
            .map_err(|e| RenderError::Expression { message: format!("condition `{expr}`: {}", describe(&e)) })?;
        Ok(out == "true")
    }
}

fn read_folder(root: &Path, dir: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let err = |e: std::io::Error| RenderError::Folder { path: dir.display().to_string(), message: e.to_string() };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.is_dir() {
            out.extend(read_folder(root, &path)?);
        } else {
            let name = path.strip_prefix(root).expect("below root").to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).map_err(err)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_strings_and_conditions() {
        let r = Renderer::new(None).unwrap();
        let mut ctx = Context::new();
        ctx.insert("name", "k8s-master");
        ctx.insert("facts", &serde_json::json!({"family": "el"}));
        assert_eq!(r.render_str("host {{ name }}", &ctx).unwrap(), "host k8s-master");
        assert_eq!(r.render_str("plain", &ctx).unwrap(), "plain");
        assert!(r.condition("facts.family == \"el\"", &ctx).unwrap());
        assert!(!r.condition("facts.family == \"debian\"", &ctx).unwrap());
        let err = r.render_str("{{ missing }}", &ctx).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
