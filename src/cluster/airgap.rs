//! `up` with `airgap: {bundle: …}`, before the preparation. First every host is checked against the
//! bundle: its OS release must have a repository there holding every package the preparation installs on
//! it; a host that does not fit stops the run (exit 2) before any host is changed, naming the host and what
//! is missing. Then each host gets, under /var/lib/kubeboot-airgap, its release's repository and the
//! package manager's settings for it (which the preparation's package tasks use alone, `only_from`), and
//! each master the images its kubeboot-registry serves. A folder is sent only where its checksum stamp
//! differs, and then only the files whose checksums differ, so a rerun sends nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::members::{record, StepFailure};
use crate::bundle::local::Unpacked;
use crate::bundle::manifest::{FileEntry, System};
use crate::facts::{PackageManager, SystemFacts};
use crate::host::layout::AIRGAP_DIR as ROOT;
use crate::inventory::{Host, Inventory, Role};
use crate::playbook::installs::installs;
use crate::playbook::{Playbook, Recap};
use crate::render::Renderer;
use crate::transport::{shell_quote, SshSession, Transport};
use crate::UsageError;

/// The stamp in a pushed folder: the SHA-256 of its files' list (paths and checksums).
const STAMP: &str = ".kubeboot-sum";

struct Reached<'a> {
    host: &'a Host,
    session: SshSession,
    facts: SystemFacts,
}

/// Check every host against the bundle, then push. Err: a host does not fit (nothing was changed);
/// otherwise the recap of the push (a host that could not be reached or failed is recorded there).
pub async fn check_and_push(
    inventory: &Inventory,
    hosts: &[Host],
    playbook: &Playbook,
    renderer: &Renderer,
    bundle: &Unpacked,
    check: bool,
    forks: usize,
) -> Result<Recap, UsageError> {
    let mut recap = Recap { check, ..Default::default() };
    let connected = crate::fanout::for_each_host(hosts, forks, |host| async move {
        let session = SshSession::connect(&host.ssh).await.map_err(StepFailure::from)?;
        let facts = crate::facts::gather_system(&session).await.map_err(|e| super::members::failure(e.to_string()))?;
        Ok::<_, StepFailure>(Reached { host, session, facts })
    })
    .await;
    let mut reached = Vec::new();
    for (host, result) in hosts.iter().zip(connected) {
        match result {
            Ok(r) => reached.push(r),
            Err(f) => record(&mut recap, &host.name, "air-gapped bundle", Err(f)),
        }
    }

    let mut problems = Vec::new();
    for r in &reached {
        problems.extend(fit(inventory, r, playbook, renderer, bundle).err());
    }
    if !problems.is_empty() {
        let path = inventory.airgap_bundle.as_deref().unwrap_or(std::path::Path::new("the bundle"));
        return Err(UsageError(format!(
            "the bundle {} does not fit these hosts (nothing was changed):\n  {}",
            path.display(),
            problems.join("\n  ")
        )));
    }

    let images_json = image_list(bundle);
    let outcomes = crate::fanout::for_each_host(&reached, forks, |r| push(r, bundle, &images_json, check)).await;
    for (r, outcome) in reached.iter().zip(outcomes) {
        record(&mut recap, &r.host.name, "air-gapped bundle", outcome);
    }
    for r in reached {
        r.session.close().await;
    }
    Ok(recap)
}

/// Does the bundle hold this host's repository, with every package the preparation installs here?
fn fit(
    inventory: &Inventory,
    r: &Reached,
    playbook: &Playbook,
    renderer: &Renderer,
    bundle: &Unpacked,
) -> Result<(), String> {
    let system = System::of(&r.facts);
    let name = &r.host.name;
    let Some(held) = bundle.manifest.system_for(&system) else {
        let held: Vec<String> = bundle.manifest.systems.iter().map(|s| s.system.to_string()).collect();
        return Err(format!(
            "{name}: {system}: the bundle has no packages for it (it holds {})",
            if held.is_empty() { "none".to_string() } else { held.join(", ") }
        ));
    };
    let wanted = installs(playbook, inventory, r.host, &r.facts, renderer).map_err(|e| format!("{name}: {e}"))?;
    let missing: Vec<String> = wanted
        .packages
        .iter()
        .filter(|w| !held.packages.contains(w))
        .map(|w| match &w.pin {
            Some(pin) => format!("{} {pin}", w.name),
            None => w.name.clone(),
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{name}: the bundle's {system} repository lacks {} (the preparation installs it here; make the bundle again \
             from this inventory)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// What masters' registries serve (images.json): the bundle's images, with folders relative to the
/// images folder.
fn image_list(bundle: &Unpacked) -> Vec<u8> {
    let images: Vec<_> = bundle
        .manifest
        .images
        .iter()
        .cloned()
        .map(|mut i| {
            i.folder = i.folder.strip_prefix("images/").unwrap_or(&i.folder).to_string();
            i
        })
        .collect();
    serde_json::to_vec_pretty(&images).expect("the image list serializes")
}

/// One file to put in a pushed folder: from the unpacked bundle, or made here.
struct Outgoing {
    relative: String,
    source: Source,
    sha256: String,
}

enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

async fn push(
    r: &Reached<'_>,
    bundle: &Unpacked,
    image_list: &[u8],
    check: bool,
) -> Result<Option<String>, StepFailure> {
    let system = System::of(&r.facts);
    let held = bundle.manifest.system_for(&system).expect("checked by fit");
    let repository = format!("{ROOT}/{}", held.folder);
    let mut folders = vec![Folder::new(repository.clone(), from_bundle(bundle, &format!("{}/", held.folder)))];
    if r.host.role == Role::Master {
        let mut images = from_bundle(bundle, "images/");
        images.push(Outgoing {
            relative: crate::bundle::registry::INDEX.into(),
            sha256: crate::checksum::sha256_hex(image_list),
            source: Source::Bytes(image_list.to_vec()),
        });
        folders.push(Folder::new(format!("{ROOT}/images"), images));
    }
    let settings = Settings::for_repository(r.facts.package_manager, &repository);

    // One round trip tells whether anything is to do: each folder's stamp, and the settings.
    let mut probe: String = folders
        .iter()
        .map(|f| format!("printf 'stamp %s\\n' \"$(cat {}/{STAMP} 2>/dev/null)\"; ", shell_quote(&f.remote)))
        .collect();
    probe.push_str(&settings.same_script());
    let said = run(&r.session, &probe).await?;
    let stamps: Vec<&str> = said.lines().filter_map(|l| l.strip_prefix("stamp")).map(str::trim).collect();
    let mut done = Vec::new();
    for (i, folder) in folders.iter().enumerate() {
        if stamps.get(i) != Some(&folder.stamp.as_str()) {
            done.push(sync_folder(&r.session, folder, check).await?);
        }
    }
    if !said.lines().any(|l| l == "settings same") {
        if !check {
            run(&r.session, &settings.write_script()).await?;
        }
        done.push(format!("{}: the bundle's repository alone", settings.path));
    }
    Ok((!done.is_empty()).then(|| done.join("; ")))
}

/// A folder on the host that must hold exactly these files; its stamp names them.
struct Folder {
    remote: String,
    files: Vec<Outgoing>,
    stamp: String,
}

impl Folder {
    fn new(remote: String, files: Vec<Outgoing>) -> Folder {
        let listing: String = files.iter().map(|f| format!("{}  {}\n", f.sha256, f.relative)).collect();
        Folder { remote, files, stamp: crate::checksum::sha256_hex(listing.as_bytes()) }
    }
}

fn from_bundle(bundle: &Unpacked, prefix: &str) -> Vec<Outgoing> {
    bundle
        .manifest
        .files
        .iter()
        .filter_map(|f: &FileEntry| {
            let relative = f.path.strip_prefix(prefix)?;
            Some(Outgoing {
                relative: relative.into(),
                source: Source::File(bundle.file(&f.path)),
                sha256: f.sha256.clone(),
            })
        })
        .collect()
}

/// Make the folder hold exactly its files (its stamp differs): only what differs is sent (one tar) and
/// what the bundle does not hold is removed; the stamp goes last.
async fn sync_folder(session: &SshSession, folder: &Folder, check: bool) -> Result<String, StepFailure> {
    let (remote, stamp) = (&folder.remote, &folder.stamp);
    let dir = shell_quote(remote);
    let present = run(
        session,
        &format!(
            "cd {dir} 2>/dev/null && find . -type f ! -name {STAMP} ! -name '.incoming*' -exec sha256sum {{}} + ; true"
        ),
    )
    .await?;
    let mut have: BTreeMap<String, String> = present
        .lines()
        .filter_map(|l| {
            let (sum, path) = l.split_once("  ")?;
            Some((path.trim_start_matches("./").to_string(), sum.to_string()))
        })
        .collect();
    let send: Vec<&Outgoing> = folder.files.iter().filter(|f| have.get(&f.relative) != Some(&f.sha256)).collect();
    for f in &folder.files {
        have.remove(&f.relative);
    }
    let extra: Vec<String> = have.into_keys().collect();
    let bytes: u64 = send.iter().map(|f| size_of(&f.source)).sum();
    let summary =
        format!("{remote}: {} files sent ({:.1} MB), {} removed", send.len(), bytes as f64 / 1e6, extra.len());
    if check {
        return Ok(summary);
    }
    let mut script = format!("mkdir -p {dir} && cd {dir}");
    if !send.is_empty() {
        let tar = tar_of(&send).map_err(|e| super::members::failure(format!("packing files for {remote}: {e}")))?;
        let incoming = format!("{remote}/.incoming.tar");
        run(session, &format!("mkdir -p {dir}")).await?;
        session.upload(&tar, &incoming, 0o600).await?;
        script.push_str(" && tar -xf .incoming.tar && rm -f .incoming.tar");
    }
    for path in &extra {
        script.push_str(&format!(" && rm -f {}", shell_quote(path)));
    }
    script.push_str(&format!(" && printf '%s\\n' {stamp} > {STAMP}.tmp && mv -f {STAMP}.tmp {STAMP}"));
    run(session, &script).await?;
    Ok(summary)
}

fn size_of(source: &Source) -> u64 {
    match source {
        Source::File(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or_default(),
        Source::Bytes(bytes) => bytes.len() as u64,
    }
}

fn tar_of(files: &[&Outgoing]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for f in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        match &f.source {
            Source::File(path) => {
                let mut file = std::fs::File::open(path)?;
                header.set_size(file.metadata()?.len());
                tar.append_data(&mut header, &f.relative, &mut file)?;
            }
            Source::Bytes(bytes) => {
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &f.relative, bytes.as_slice())?;
            }
        }
    }
    tar.into_inner()
}

/// The package manager's settings for the bundle's repository alone, in files of kubeboot's own (the
/// host's sources stay as they are): apt's sources.list with its own index folder, or a yum.repos.d.
struct Settings {
    path: String,
    text: String,
    folders: String,
}

impl Settings {
    fn for_repository(pm: PackageManager, repository: &str) -> Settings {
        const HEADER: &str =
            "# Written by kubeboot up: the air-gapped bundle's packages (checked against its manifest).";
        match pm {
            PackageManager::Apt => Settings {
                path: format!("{ROOT}/apt/sources.list"),
                text: format!("{HEADER}\ndeb [trusted=yes] file:{repository} ./\n"),
                folders: format!("{ROOT}/apt/sources.list.d {ROOT}/apt/lists/partial"),
            },
            _ => Settings {
                path: format!("{ROOT}/yum.repos.d/kubeboot-airgap.repo"),
                text: format!(
                    "{HEADER}\n[kubeboot-airgap]\nname=kubeboot air-gapped bundle\nbaseurl=file://{repository}\nenabled=1\n\
                     gpgcheck=0\nmetadata_expire=0\n"
                ),
                folders: format!("{ROOT}/yum.repos.d"),
            },
        }
    }

    /// Prints `settings same` when the file and its folders are as they should be.
    fn same_script(&self) -> String {
        let (p, t) = (shell_quote(&self.path), shell_quote(&self.text));
        let folders: Vec<String> = self.folders.split(' ').map(|f| format!("[ -d {f} ]")).collect();
        format!(
            "[ \"$(cat {p} 2>/dev/null)\" = \"$(printf '%s' {t})\" ] && {} && echo 'settings same'; true",
            folders.join(" && ")
        )
    }

    fn write_script(&self) -> String {
        let (p, t) = (shell_quote(&self.path), shell_quote(&self.text));
        format!("mkdir -p {} && printf '%s' {t} > {p}.tmp && mv -f {p}.tmp {p}", self.folders)
    }
}

/// A command's stdout; a non-zero exit is the step's failure.
async fn run(session: &SshSession, command: &str) -> Result<String, StepFailure> {
    super::members::run_on(session, command, b"").await.map(|out| out.stdout_text())
}
